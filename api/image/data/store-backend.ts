/**
 * Where image data lives. The data helper's filesystem store implements it;
 * image services use only this interface.
 */
export interface ImageDataStore {
  /** Removes the data at `location` (a key this store returned); no error when it is already gone. */
  delete(location: string): Promise<void>;
}
