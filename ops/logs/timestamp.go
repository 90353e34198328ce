package logs

import (
	"strings"
	"time"
)

// leadingTime reads a timestamp at the start of s and returns it with the
// rest of s (leading blanks removed). Up to two timestamps are read, so a
// line prefixed by Kubernetes' own timestamp (kubectl logs --timestamps)
// before the application's is handled; the first one is returned.
//
// Forms read: RFC 3339 with or without fraction and zone
// (2025-03-14T09:30:00.123Z, 2025-03-14 09:30:00,123, Python's comma
// included; PostgreSQL's 2025-03-14 09:30:00.123 UTC), the same with slashes (Go's log package: 2025/03/14 09:30:00)
// and either one in square brackets. A time without a zone is UTC.
func leadingTime(s string) (time.Time, string, bool) {
	var first time.Time
	found := false
	for range 2 {
		t, rest, ok := parseStamp(s)
		if !ok {
			break
		}
		if !found {
			first, found = t, true
		}
		s = rest
	}
	return first, s, found
}

// parseStamp reads one timestamp, bracketed or not, at the start of s.
func parseStamp(s string) (time.Time, string, bool) {
	bracket := strings.HasPrefix(s, "[")
	in := s
	if bracket {
		in = s[1:]
	}
	t, n, ok := parseISO(in)
	if !ok {
		return time.Time{}, s, false
	}
	rest := in[n:]
	// PostgreSQL's default log_line_prefix writes the zone's name after
	// the time ("2025-03-14 09:30:00.123 UTC [4242] ERROR: …"); UTC and
	// GMT are read as such, as a time without a zone is.
	for _, z := range []string{" UTC", " GMT"} {
		if strings.HasPrefix(rest, z) && (len(rest) == len(z) || rest[len(z)] == ' ' || rest[len(z)] == ']') {
			rest = rest[len(z):]
		}
	}
	if bracket {
		if !strings.HasPrefix(rest, "]") {
			return time.Time{}, s, false
		}
		rest = rest[1:]
	}
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' && rest[0] != ':' && rest[0] != '|' {
		return time.Time{}, s, false
	}
	rest = strings.TrimLeft(rest, " \t:|")
	return t, rest, true
}

// parseISO reads YYYY-MM-DD[T ]HH:MM:SS[.frac][Z|±hh:mm|±hhmm] (or with
// slashes in the date) and returns the time and the bytes read.
func parseISO(s string) (time.Time, int, bool) {
	if len(s) < 19 {
		return time.Time{}, 0, false
	}
	sep := s[4]
	if (sep != '-' && sep != '/') || s[7] != sep || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':' {
		return time.Time{}, 0, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	sec, ok6 := digits(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, 0, false
	}
	n := 19
	nsec := 0
	if n < len(s) && (s[n] == '.' || s[n] == ',') && n+1 < len(s) && isDigit(s[n+1]) {
		n++
		scale := 100_000_000
		for n < len(s) && isDigit(s[n]) {
			nsec += int(s[n]-'0') * scale
			scale /= 10
			n++
		}
	}
	loc := time.UTC
	if n < len(s) {
		switch c := s[n]; {
		case c == 'Z':
			n++
		case c == '+' || c == '-':
			if off, m, ok := parseZone(s[n:]); ok {
				loc = time.FixedZone("", off)
				n += m
			}
		}
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc), n, true
}

// parseZone reads ±hh:mm or ±hhmm and returns the offset in seconds.
func parseZone(s string) (int, int, bool) {
	if len(s) < 5 {
		return 0, 0, false
	}
	h, ok := digits(s[1:3])
	if !ok {
		return 0, 0, false
	}
	n := 3
	if s[n] == ':' {
		n++
	}
	if len(s) < n+2 {
		return 0, 0, false
	}
	m, ok := digits(s[n : n+2])
	if !ok || h > 14 || m > 59 {
		return 0, 0, false
	}
	off := h*3600 + m*60
	if s[0] == '-' {
		off = -off
	}
	return off, n + 2, true
}

// digits reads a short run of ASCII digits.
func digits(s string) (int, bool) {
	v := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		v = v*10 + int(s[i]-'0')
	}
	return v, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
