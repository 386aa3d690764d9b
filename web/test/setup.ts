// IndexedDB for Node: the store and the queue run on the same Dexie code as in the browser.
import "fake-indexeddb/auto";
