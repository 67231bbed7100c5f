/* threads.c: a small persistent pool of worker threads for cs_parallel_for.
   The calling thread works too, so n threads means n - 1 workers. Tasks are
   handed out one at a time from a shared counter. Serial where there are no
   threads (WASI, Emscripten without -pthread). */
#include "internal.h"

#if defined(__wasi__) || (defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__))

void cs_set_threads(int n) { (void)n; }
int cs_threads(void) { return 1; }

void cs_parallel_for(int n, cs_task_fn fn, void *ctx) {
    for (int i = 0; i < n; i++) fn(ctx, i);
}

#else

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define CS_MAX_THREADS 256

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    pthread_t workers[CS_MAX_THREADS];
    int nworkers;
    int exiting;
    long generation;       /* counts jobs, so that workers see each new one */
    /* the current job */
    cs_task_fn fn;
    void *ctx;
    int n, next, finished; /* tasks, the next to hand out, how many are done */
    int busy;              /* workers inside the current job */
    int active;            /* a job is running */
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER};

static _Thread_local int in_task; /* a task that calls cs_parallel_for runs it serially */

/* Runs tasks of the current job until none are left; called with the lock held. */
static void run_tasks(void) {
    while (pool.next < pool.n) {
        int i = pool.next++;
        pthread_mutex_unlock(&pool.lock);
        in_task = 1;
        pool.fn(pool.ctx, i);
        in_task = 0;
        pthread_mutex_lock(&pool.lock);
        if (++pool.finished == pool.n) pthread_cond_broadcast(&pool.done);
    }
}

static void *worker(void *arg) {
    (void)arg;
    long seen = 0;
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        while (!pool.exiting && pool.generation == seen) pthread_cond_wait(&pool.wake, &pool.lock);
        if (pool.exiting) break;
        seen = pool.generation;
        pool.busy++;
        run_tasks();
        if (--pool.busy == 0) pthread_cond_broadcast(&pool.done);
    }
    pthread_mutex_unlock(&pool.lock);
    return NULL;
}

static void stop_workers(void) {
    pthread_mutex_lock(&pool.lock);
    pool.exiting = 1;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    for (int i = 0; i < pool.nworkers; i++) pthread_join(pool.workers[i], NULL);
    pool.nworkers = 0;
    pool.exiting = 0;
}

static void stop_at_exit(void) { stop_workers(); }

/* Not while another thread is inside cs_parallel_for. */
void cs_set_threads(int n) {
    static int registered;
    if (n <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n = cores > 0 ? (int)cores : 1;
    }
    if (n > CS_MAX_THREADS) n = CS_MAX_THREADS;
    if (n - 1 == pool.nworkers) return;
    stop_workers();
    if (!registered) registered = atexit(stop_at_exit) == 0;
    for (int i = 0; i < n - 1; i++) {
        if (pthread_create(&pool.workers[i], NULL, worker, NULL) != 0) break; /* fewer, then */
        pool.nworkers++;
    }
}

int cs_threads(void) { return pool.nworkers + 1; }

void cs_parallel_for(int n, cs_task_fn fn, void *ctx) {
    if (pool.nworkers == 0 || n <= 1 || in_task) {
        for (int i = 0; i < n; i++) fn(ctx, i);
        return;
    }
    pthread_mutex_lock(&pool.lock);
    if (pool.active) { /* another thread's job holds the pool: this one runs alone */
        pthread_mutex_unlock(&pool.lock);
        for (int i = 0; i < n; i++) fn(ctx, i);
        return;
    }
    pool.active = 1;
    pool.fn = fn, pool.ctx = ctx, pool.n = n, pool.next = 0, pool.finished = 0;
    pool.generation++;
    pthread_cond_broadcast(&pool.wake);
    run_tasks();
    /* Wait for the last tasks, and for every worker to leave the job, so that
       none still reads it when the next one starts. */
    while (pool.finished < pool.n || pool.busy > 0) pthread_cond_wait(&pool.done, &pool.lock);
    pool.active = 0;
    pthread_mutex_unlock(&pool.lock);
}

#endif
