package logs

import "strings"

// The placeholders that stand for masked parts. Wildcard is the one Drain
// puts where the lines of a template differ; the others are written by
// masking, before lines are compared, and are compared like any token.
const (
	Wildcard = "<*>"    // a position where the template's lines differ; a key=value's value
	maskNum  = "<num>"  // 42, -3, 1.5
	maskHex  = "<hex>"  // 0x1f, and hex runs of 8 or more with a digit: 9f1c2a7e
	maskUUID = "<uuid>" // 123e4567-e89b-12d3-a456-426614174000
	maskIP   = "<ip>"   // 10.0.3.17 (a port after it is a <num>)
	maskDur  = "<dur>"  // 5003ms, 2.5s, 1m30s
	maskSize = "<size>" // 512MB, 4KiB
	maskStr  = "<str>"  // "quoted" or 'quoted'
	maskTime = "<ts>"   // 2025-03-14T09:30:00Z inside a line
)

// Mask returns text's tokens, masked as the miner masks them, joined by
// single spaces. It is what a line's template is built from; the leading
// timestamps and level detection of [Miner.Add] are not applied here.
//
// A token is a run of non-blank bytes; a double-quoted string may hold
// blanks (as may a single-quoted one that opens a token). In each token:
//
//   - a token that is one quoted string is <str>;
//   - key=value keeps its key: the value of level=, lvl= and severity= is
//     kept (lower-cased); a quoted value of msg=, message=, err=, error= and
//     reason= is split into tokens and masked like the rest of the line; any
//     other value becomes <*> (key=<*>);
//   - otherwise every word (letters, digits, underscores) is looked at on
//     its own and replaced when it is a UUID (<uuid>), an IPv4 address
//     (<ip>), an RFC 3339 timestamp (<ts>), 0x-prefixed hex or a run of 8 or
//     more hex digits with a digit in it (<hex>), a number followed by a
//     duration unit (<dur>: ns us µs ms s m h d, compounds like 1m30s) or a
//     size unit (<size>: B KB MB GB TB KiB MiB GiB TiB), or a number
//     (<num>). A word that only contains digits (v1, s3, utf8) is kept.
//
// Punctuation around and inside tokens is kept: "dial tcp 10.0.3.17:6379:"
// becomes "dial tcp <ip>:<num>:".
func Mask(text string) string {
	var tz tokenizer
	return strings.Join(tz.tokenize(text, 0), " ")
}

// tokenizer splits and masks lines into one reused buffer.
type tokenizer struct {
	buf  []byte
	ends []int
	toks []string
}

// tokenize returns text's masked tokens; with max > 0, a line of more tokens
// keeps max-1 of them and a last Wildcard. The slice is reused by the next
// call; the strings are not.
func (tz *tokenizer) tokenize(text string, max int) []string {
	tz.buf = tz.buf[:0]
	tz.ends = tz.ends[:0]
	tz.split(text, 0)
	s := string(tz.buf)
	tz.toks = tz.toks[:0]
	start := 0
	for _, end := range tz.ends {
		tz.toks = append(tz.toks, s[start:end])
		start = end
	}
	if max > 0 && len(tz.toks) > max {
		tz.toks = append(tz.toks[:max-1], Wildcard)
	}
	return tz.toks
}

// emit ends the token being written.
func (tz *tokenizer) emit() { tz.ends = append(tz.ends, len(tz.buf)) }

// split cuts s at blanks, keeping quoted strings whole, and masks each token.
func (tz *tokenizer) split(s string, depth int) {
	i := 0
	for i < len(s) {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		start := i
		for i < len(s) && s[i] != ' ' && s[i] != '\t' {
			c := s[i]
			if (c == '"' && (i == start || !isWord(s[i-1]))) || (c == '\'' && i == start) {
				if end := closingQuote(s, i+1, c); end >= 0 {
					i = end + 1
					continue
				}
			}
			i++
		}
		if i > start {
			tz.token(s[start:i], depth)
		}
	}
}

// closingQuote returns the index of the quote q that closes a string
// starting at from (backslash escapes skipped), or -1.
func closingQuote(s string, from int, q byte) int {
	for i := from; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case q:
			return i
		}
	}
	return -1
}

const (
	leadPunct  = "([{<"
	trailPunct = ")]}>,;:.!?"
)

// token masks one token into the buffer.
func (tz *tokenizer) token(raw string, depth int) {
	l := 0
	for l < len(raw) && strings.IndexByte(leadPunct, raw[l]) >= 0 {
		l++
	}
	r := len(raw)
	for r > l && strings.IndexByte(trailPunct, raw[r-1]) >= 0 {
		r--
	}
	lead, core, trail := raw[:l], raw[l:r], raw[r:]
	if core == "" {
		tz.buf = append(tz.buf, raw...)
		tz.emit()
		return
	}
	tz.buf = append(tz.buf, lead...)
	switch k := keyEnd(core); {
	case quoted(core):
		tz.buf = append(tz.buf, maskStr...)
	case k > 0 && k+1 < len(core):
		key, val := core[:k], core[k+1:]
		tz.buf = append(tz.buf, key...)
		tz.buf = append(tz.buf, '=')
		switch strings.ToLower(key) {
		case "level", "lvl", "severity":
			for _, c := range []byte(strings.Trim(val, `"'`)) {
				if isLetter(c) {
					c |= 0x20
				}
				tz.buf = append(tz.buf, c)
			}
		case "msg", "message", "err", "error", "reason":
			if depth > 0 || !quoted(val) {
				tz.scan(val)
				break
			}
			tz.emit()
			tz.split(val[1:len(val)-1], depth+1)
			if trail != "" {
				tz.buf = append(tz.buf, trail...)
				tz.emit()
			}
			return
		default:
			tz.buf = append(tz.buf, Wildcard...)
		}
	default:
		tz.scan(core)
	}
	tz.buf = append(tz.buf, trail...)
	tz.emit()
}

// quoted reports whether s is one string in double or single quotes.
func quoted(s string) bool {
	return len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] && closingQuote(s, 1, s[0]) == len(s)-1
}

// keyEnd returns the index of the "=" of a key=value token whose key is a
// name (a letter or underscore, then letters, digits, _ . -), or -1.
func keyEnd(s string) int {
	if s == "" || !(isLetter(s[0]) || s[0] == '_') {
		return -1
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '=':
			return i
		case isWord(c) || c == '.' || c == '-':
		default:
			return -1
		}
	}
	return -1
}

// scan masks the words of s.
func (tz *tokenizer) scan(s string) {
	for i := 0; i < len(s); {
		c := s[i]
		if !isWord(c) {
			tz.buf = append(tz.buf, c)
			i++
			continue
		}
		if n, mask := variable(s[i:]); n > 0 {
			tz.buf = append(tz.buf, mask...)
			i += n
			continue
		}
		w := i
		for w < len(s) && isWord(s[w]) {
			w++
		}
		if isHexID(s[i:w]) {
			tz.buf = append(tz.buf, maskHex...)
		} else {
			tz.buf = append(tz.buf, s[i:w]...)
		}
		i = w
	}
}

// variable matches a masked kind at the start of s (a word start) and
// returns its length and placeholder.
func variable(s string) (int, string) {
	if n := matchUUID(s); n > 0 {
		return n, maskUUID
	}
	if !isDigit(s[0]) {
		return 0, ""
	}
	if n := matchIPv4(s); n > 0 {
		return n, maskIP
	}
	if _, n, ok := parseISO(s); ok && boundary(s, n) {
		return n, maskTime
	}
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		n := 2
		for n < len(s) && isHexDigit(s[n]) {
			n++
		}
		if n > 2 && boundary(s, n) {
			return n, maskHex
		}
	}
	n := number(s)
	if boundary(s, n) {
		return n, maskNum
	}
	if d := duration(s); d > 0 {
		return d, maskDur
	}
	u := n
	for u < len(s) && isLetter(s[u]) {
		u++
	}
	if boundary(s, u) && sizeUnit(s[n:u]) {
		return u, maskSize
	}
	return 0, ""
}

// number returns the length of the digits, with a fraction, at s's start.
func number(s string) int {
	n := 0
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	if n+1 < len(s) && s[n] == '.' && isDigit(s[n+1]) {
		n++
		for n < len(s) && isDigit(s[n]) {
			n++
		}
	}
	return n
}

// durationUnits are the units of a duration, largest first.
var durationUnits = []string{"d", "h", "m", "s", "ms", "us", "µs", "ns"}

// duration returns the length of a Go-style duration at s's start (5003ms,
// 2.5s, 1h2m3s, 3d), or 0. A compound's units must come largest first, so
// a hex id such as 3519d2d7 is not read as days.
func duration(s string) int {
	i := 0
	last := -1 // index in durationUnits of the previous unit
	for {
		n := number(s[i:])
		if n == 0 {
			return 0
		}
		i += n
		u, k := 0, -1
		for j, unit := range durationUnits {
			// The longest unit that matches: "ms" before "m".
			if strings.HasPrefix(s[i:], unit) && len(unit) >= u {
				u, k = len(unit), j
			}
		}
		if u == 0 || k <= last {
			return 0
		}
		last = k
		i += u
		if boundary(s, i) {
			return i
		}
		if !isDigit(s[i]) {
			return 0
		}
	}
}

func sizeUnit(u string) bool {
	switch strings.ToLower(u) {
	case "b", "kb", "mb", "gb", "tb", "kib", "mib", "gib", "tib":
		return true
	}
	return false
}

// boundary reports whether a word ends at s[n].
func boundary(s string, n int) bool { return n >= len(s) || !isWord(s[n]) }

// matchUUID matches 8-4-4-4-12 hex digits followed by a word boundary.
func matchUUID(s string) int {
	if len(s) < 36 {
		return 0
	}
	for i := 0; i < 36; i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return 0
			}
		default:
			if !isHexDigit(s[i]) {
				return 0
			}
		}
	}
	if !boundary(s, 36) {
		return 0
	}
	return 36
}

// matchIPv4 matches four dotted decimal octets not followed by more of an
// address or a word.
func matchIPv4(s string) int {
	i := 0
	for octet := range 4 {
		if octet > 0 {
			if i >= len(s) || s[i] != '.' {
				return 0
			}
			i++
		}
		v, n := 0, 0
		for i < len(s) && isDigit(s[i]) && n < 4 {
			v = v*10 + int(s[i]-'0')
			i++
			n++
		}
		if n == 0 || n > 3 || v > 255 {
			return 0
		}
	}
	if !boundary(s, i) || (i+1 < len(s) && s[i] == '.' && isDigit(s[i+1])) {
		return 0
	}
	return i
}

// isHexID reports whether w looks like a hexadecimal id: 8 or more hex
// digits with at least one decimal digit.
func isHexID(w string) bool {
	if len(w) < 8 {
		return false
	}
	digit := false
	for i := 0; i < len(w); i++ {
		if !isHexDigit(w[i]) {
			return false
		}
		if isDigit(w[i]) {
			digit = true
		}
	}
	return digit
}

func isHexDigit(c byte) bool { return isDigit(c) || ((c|0x20) >= 'a' && (c|0x20) <= 'f') }
