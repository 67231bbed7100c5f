/* store.js: the fine-tuned models kept in this browser (IndexedDB). */

// IndexedDB "cellsight", store "models": {id, name, fileName, created, bytes,
// classes, mode, base, figures}. The bytes are the .safetensors file.
export const savedModels = {
  db: null,
  open() {
    if (this.db) return this.db;
    this.db = new Promise((resolve, reject) => {
      if (!self.indexedDB) return reject(new Error("this browser offers no IndexedDB"));
      const request = indexedDB.open("cellsight", 1);
      request.onupgradeneeded = () =>
        request.result.createObjectStore("models", { keyPath: "id", autoIncrement: true });
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error("the browser's storage is blocked by another tab"));
    });
    this.db.catch(() => (this.db = null));
    return this.db;
  },
  async run(mode, work) {
    const db = await this.open();
    return new Promise((resolve, reject) => {
      const tx = db.transaction("models", mode);
      const request = work(tx.objectStore("models"));
      // Resolved once the transaction has committed, so a reload right after finds it.
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = tx.onabort = () => reject(tx.error || new Error("the browser's storage refused"));
    });
  },
  // Whether the browser promises to keep what is stored until the user
  // clears it ("persistent" storage, granted or not by its own judgement;
  // ask: also request it, which Firefox asks the user about). Without it
  // the storage is best effort, and cleared without a word: by Safari after
  // 7 days without a visit, by any browser when the disk runs short, with a
  // private window when it closes.
  async lasting(ask = false) {
    try {
      const s = navigator.storage;
      if (!s || !s.persisted) return false;
      return (await s.persisted()) || (ask && s.persist ? await s.persist() : false);
    } catch {
      return false;
    }
  },
  list() { return this.run("readonly", (s) => s.getAll()); },
  put(record) { return this.run("readwrite", (s) => s.add(record)); },
  remove(id) { return this.run("readwrite", (s) => s.delete(id)); },
};
