/**
 * An accessIPv6 as Nova stores it (its IPAddress column type, through
 * netaddr): the canonical compressed lowercase form, so that
 * `0000:0000:0000:0000:0000:babe:220.12.22.2` becomes `::babe:dc0c:1602`
 * and always fits the 39 characters of the column. The request schema has
 * checked it is an IPv6 address; anything else ('' included) is kept as is.
 */
export function canonicalIpv6(address: string): string {
  if (!address.includes(':')) return address;
  try {
    return new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return address;
  }
}
