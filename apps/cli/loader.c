/* loader.c: predict's images read and decoded one ahead, on a thread of their
   own, so that decoding the next image overlaps classifying this one (which
   keeps the pool's threads busy). Pages come in the files' order, so the
   output's order is the files'. Serial where there are no threads (WASI). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The next page of the file being read; opens the next file when it is done.
   Returns 0 when every file is done. */
static int load_next(loader *ld, loaded *out) {
    memset(out, 0, sizeof *out);
    if (!ld->data) {
        if (ld->next_file >= ld->nfiles) return 0;
        ld->file = ld->files[ld->next_file++];
        ld->page = ld->first_page;
        ld->pages = 1;
        if (cs_image_read_file(ld->file, &ld->data, &ld->size, &out->e)) {
            ld->data = NULL;
            out->failed = 1;
            out->last = 1;
            snprintf(out->name, sizeof out->name, "%s", ld->file);
            out->file = ld->file;
            return 1;
        }
    }
    out->file = ld->file;
    out->failed = cs_image_decode_page(&out->im, ld->data, ld->size, ld->page, &ld->pages, &out->e) != CS_OK;
    snprintf(out->name, sizeof out->name, ld->paged && ld->pages > 1 ? "%s#%d" : "%s", ld->file, ld->page + 1);
    if (!ld->all_pages || ++ld->page >= ld->pages) {
        free(ld->data);
        ld->data = NULL;
        out->last = 1;
    }
    return 1;
}

#if defined(__wasi__)

void loader_start(loader *ld) { (void)ld; }
int loader_next(loader *ld, loaded *out) { return load_next(ld, out); }
void loader_stop(loader *ld) { free(ld->data); }

#else

static void *run(void *arg) {
    loader *ld = arg;
    pthread_mutex_lock(&ld->lock);
    for (;;) {
        while (ld->full && !ld->stop) pthread_cond_wait(&ld->changed, &ld->lock);
        if (ld->stop) break;
        pthread_mutex_unlock(&ld->lock);
        int more = load_next(ld, &ld->slot); /* the slot is empty: only this thread touches it */
        pthread_mutex_lock(&ld->lock);
        ld->full = 1;
        ld->done = !more;
        pthread_cond_broadcast(&ld->changed);
        if (!more) break;
    }
    pthread_mutex_unlock(&ld->lock);
    return NULL;
}

void loader_start(loader *ld) {
    pthread_mutex_init(&ld->lock, NULL);
    pthread_cond_init(&ld->changed, NULL);
    ld->threaded = pthread_create(&ld->thread, NULL, run, ld) == 0;
}

/* The next page, decoded (or what failed); 0 when there are no more. */
int loader_next(loader *ld, loaded *out) {
    if (!ld->threaded) return load_next(ld, out);
    pthread_mutex_lock(&ld->lock);
    while (!ld->full) pthread_cond_wait(&ld->changed, &ld->lock);
    int more = !ld->done;
    if (more) {
        *out = ld->slot;
        ld->full = 0;
        pthread_cond_broadcast(&ld->changed);
    }
    pthread_mutex_unlock(&ld->lock);
    return more;
}

/* Ends the thread, freeing what it had read ahead. */
void loader_stop(loader *ld) {
    if (ld->threaded) {
        pthread_mutex_lock(&ld->lock);
        ld->stop = 1;
        pthread_cond_broadcast(&ld->changed);
        pthread_mutex_unlock(&ld->lock);
        pthread_join(ld->thread, NULL);
        if (ld->full && !ld->done) cs_image_free(&ld->slot.im);
    }
    pthread_mutex_destroy(&ld->lock);
    pthread_cond_destroy(&ld->changed);
    free(ld->data);
    ld->data = NULL;
}

#endif
