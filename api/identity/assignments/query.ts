/**
 * Keystone's boolean query parameters (ResourceBase.query_filter_is_true):
 * present means true, including `?effective` with no value; only `=0` is false.
 */
export function queryFlag(query: Record<string, unknown>, name: string): boolean {
  if (!(name in query)) return false;
  const value = query[name];
  return !(typeof value === 'string' && value === '0');
}
