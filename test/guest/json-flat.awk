# Flattens one JSON document into lines "path=value" in document order, for
# the test guest's init (busybox awk, no jq in the guest). Object members
# join the path with ".", array items with their index: {"a":{"b":[1,"x"]}}
# gives "a.b.0=1" and "a.b.1=x". String escapes are decoded except control
# characters, which stay escaped ("\n" stays the two characters \ and n) so
# that every value is one line. Exits 1 on malformed input.

function fail() { exit 1 }

function ws() {
  while (pos <= n && index(" \t\r\n", substr(s, pos, 1)) > 0) pos++
}

function str(   c, out) {
  if (substr(s, pos, 1) != "\"") fail()
  pos++
  out = ""
  while (pos <= n) {
    c = substr(s, pos, 1)
    if (c == "\"") { pos++; return out }
    if (c == "\\") {
      c = substr(s, pos + 1, 1)
      if (c == "\"" || c == "\\" || c == "/") out = out c
      else if (c == "u") { out = out "\\u" substr(s, pos + 2, 4); pos += 4 }
      else out = out "\\" c
      pos += 2
      continue
    }
    out = out c
    pos++
  }
  fail()
}

function value(path,   c, k, i, lit) {
  ws()
  c = substr(s, pos, 1)
  if (c == "{") {
    pos++; ws()
    if (substr(s, pos, 1) == "}") { pos++; return }
    while (1) {
      ws(); k = str(); ws()
      if (substr(s, pos, 1) != ":") fail()
      pos++
      value(path == "" ? k : path "." k)
      ws(); c = substr(s, pos, 1); pos++
      if (c == "}") return
      if (c != ",") fail()
    }
  }
  if (c == "[") {
    pos++; ws()
    if (substr(s, pos, 1) == "]") { pos++; return }
    for (i = 0; ; i++) {
      value(path == "" ? i : path "." i)
      ws(); c = substr(s, pos, 1); pos++
      if (c == "]") return
      if (c != ",") fail()
    }
  }
  if (c == "\"") { print path "=" str(); return }
  lit = substr(s, pos)
  if (!match(lit, /^(-?[0-9][0-9.eE+-]*|true|false|null)/)) fail()
  print path "=" substr(lit, 1, RLENGTH)
  pos += RLENGTH
}

{ s = s $0 "\n" }

END {
  n = length(s); pos = 1
  value("")
  ws()
  if (pos <= n) exit 1
}
