package logs

import (
	"encoding/json"
	"strings"
	"time"
)

// Level is the severity of a counted line. Only errors and warnings are
// mined; every other line is LevelNone and skipped.
type Level uint8

// The levels a line can have.
const (
	LevelNone  Level = iota // not an error or a warning: skipped
	LevelWarn               // warning
	LevelError              // error, fatal, critical, panic
)

// String returns "error", "warn" or "none".
func (l Level) String() string {
	switch l {
	case LevelError:
		return "error"
	case LevelWarn:
		return "warn"
	}
	return "none"
}

// MarshalText writes the level as String does.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText reads what MarshalText wrote; anything else is LevelNone.
func (l *Level) UnmarshalText(b []byte) error {
	*l = levelWord(string(b))
	return nil
}

// DetectLevel returns the level of one log line (LevelNone for one that is
// neither an error nor a warning). It reads, after any leading timestamps:
//
//   - a JSON object's "level", "lvl", "severity" or "levelname" field;
//   - a klog header (E1207 10:00:00.123456 1 file.go:12] …): E and F are
//     errors, W warnings;
//   - a logfmt level=, lvl= or severity= pair anywhere in the line;
//   - a level word among the first four words, in any case, bare or in
//     brackets and punctuation ([ERROR], ERROR:root:…, <warn>): ERROR,
//     ERR, FATAL, CRITICAL, CRIT, PANIC, SEVERE, EMERG; WARN, WARNING. The
//     first level word decides, so "INFO retry after error" is skipped;
//   - a Python traceback's last line: an unindented exception name ending
//     in Error, Exception, Exit, Interrupt or Fault, alone or before ":"
//     (ZeroDivisionError: division by zero); Warning makes it a warning.
func DetectLevel(line string) Level {
	p, ok := parse(line, time.Time{})
	if !ok {
		return LevelNone
	}
	return p.level
}

// parsed is a counted line ready for masking.
type parsed struct {
	level Level
	text  string    // what is tokenized: the line without its timestamps
	at    time.Time // the line's own time, when it has one
	hasAt bool
}

// parse classifies line; ok is false for a line that is not counted. now
// gives klog's missing year.
func parse(line string, now time.Time) (p parsed, ok bool) {
	line = strings.TrimRight(line, "\r\n")
	at, rest, hasAt := leadingTime(line)
	p.at, p.hasAt = at, hasAt
	if strings.HasPrefix(rest, "{") {
		return parseJSON(rest, p)
	}
	if lv, t, text, ok := klog(rest, now); ok {
		if lv == LevelNone {
			return p, false
		}
		p.level, p.text = lv, text
		if !p.hasAt {
			p.at, p.hasAt = t, true
		}
		return p, true
	}
	p.text = rest
	if lv, found := logfmtLevel(rest); found {
		p.level = lv
		return p, lv != LevelNone
	}
	if lv, found := wordLevel(rest); found {
		p.level = lv
		return p, lv != LevelNone
	}
	if lv := pythonException(rest); lv != LevelNone {
		p.level = lv
		return p, true
	}
	return p, false
}

var (
	errorNames = []string{"error", "err", "fatal", "critical", "crit", "panic", "severe", "emerg", "emergency", "e", "f"}
	warnNames  = []string{"warn", "warning", "w"}
	otherNames = []string{"info", "debug", "trace", "notice", "dbg", "inf", "verbose", "fine", "finer", "finest", "config"}
)

// levelWord maps a level's name, in any case, to a Level; a name of no
// counted level is LevelNone. (EqualFold, not ToLower: no allocation for
// the INFO of every line.)
func levelWord(w string) Level {
	if oneOf(w, errorNames) {
		return LevelError
	}
	if oneOf(w, warnNames) {
		return LevelWarn
	}
	return LevelNone
}

func oneOf(w string, names []string) bool {
	for _, n := range names {
		if len(n) == len(w) && strings.EqualFold(w, n) {
			return true
		}
	}
	return false
}

// isLevelName reports whether w names any level, counted or not.
func isLevelName(w string) bool {
	if len(w) < 3 || len(w) > 9 {
		return false
	}
	return levelWord(w) != LevelNone || oneOf(w, otherNames)
}

// wordLevel looks for a level word among the first four words.
func wordLevel(s string) (Level, bool) {
	for i := 0; i < 4; i++ {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			break
		}
		end := strings.IndexAny(s, " \t")
		if end < 0 {
			end = len(s)
		}
		word := strings.TrimLeft(s[:end], "[(<{|")
		n := 0
		for n < len(word) && isLetter(word[n]) {
			n++
		}
		if n > 0 && (n == len(word) || !isWord(word[n])) && isLevelName(word[:n]) {
			return levelWord(word[:n]), true
		}
		s = s[end:]
	}
	return LevelNone, false
}

// logfmtLevel finds level=, lvl= or severity= (any case, value quoted or
// not) at the start of a word.
func logfmtLevel(s string) (Level, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			continue
		}
		k := i
		for k > 0 && isLetter(s[k-1]) {
			k--
		}
		if k > 0 && s[k-1] != ' ' && s[k-1] != '\t' {
			continue
		}
		switch strings.ToLower(s[k:i]) {
		case "level", "lvl", "severity":
		default:
			continue
		}
		v := s[i+1:]
		v = strings.TrimLeft(v, `"'`)
		n := 0
		for n < len(v) && isLetter(v[n]) {
			n++
		}
		return levelWord(v[:n]), true
	}
	return LevelNone, false
}

// klog reads a klog header: [IWEF]MMDD hh:mm:ss.uuuuuu threadid rest. The
// text kept is the level letter and rest (file:line] message). The year is
// now's, or the year before when that would put the line more than a day
// after now.
func klog(s string, now time.Time) (Level, time.Time, string, bool) {
	if len(s) < 14 || strings.IndexByte("IWEF", s[0]) < 0 || s[5] != ' ' || s[8] != ':' || s[11] != ':' {
		return LevelNone, time.Time{}, "", false
	}
	month, ok1 := digits(s[1:3])
	day, ok2 := digits(s[3:5])
	hour, ok3 := digits(s[6:8])
	minute, ok4 := digits(s[9:11])
	sec, ok5 := digits(s[12:14])
	if !(ok1 && ok2 && ok3 && ok4 && ok5) || month < 1 || month > 12 || day < 1 || day > 31 {
		return LevelNone, time.Time{}, "", false
	}
	n := 14
	nsec := 0
	if n < len(s) && s[n] == '.' {
		n++
		scale := 100_000_000
		for n < len(s) && isDigit(s[n]) {
			nsec += int(s[n]-'0') * scale
			scale /= 10
			n++
		}
	}
	rest := strings.TrimLeft(s[n:], " ")
	k := 0
	for k < len(rest) && isDigit(rest[k]) {
		k++
	}
	if k == 0 || k == len(rest) || rest[k] != ' ' {
		return LevelNone, time.Time{}, "", false
	}
	rest = strings.TrimLeft(rest[k:], " ")
	lv := levelWord(s[:1])
	if lv == LevelNone {
		return LevelNone, time.Time{}, "", true
	}
	year := now.Year()
	if now.IsZero() {
		year = time.Now().Year()
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if !now.IsZero() && t.After(now.Add(24*time.Hour)) {
		t = t.AddDate(-1, 0, 0)
	}
	return lv, t, s[:1] + " " + rest, true
}

// pythonException reads a traceback's last line: an unindented dotted name
// ending in Error, Exception, Exit, Interrupt, Fault or Warning, followed by
// ":" or nothing.
func pythonException(s string) Level {
	n := 0
	for n < len(s) && (isWord(s[n]) || s[n] == '.') {
		n++
	}
	if n == 0 || !isLetter(s[0]) || (n < len(s) && s[n] != ':') {
		return LevelNone
	}
	name := s[:n]
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	if len(name) < 5 || name[0] < 'A' || name[0] > 'Z' {
		return LevelNone
	}
	for _, suffix := range []string{"Error", "Exception", "Exit", "Interrupt", "Fault"} {
		if strings.HasSuffix(name, suffix) {
			return LevelError
		}
	}
	if strings.HasSuffix(name, "Warning") {
		return LevelWarn
	}
	return LevelNone
}

// jsonLevelKeys are the fields that hold a JSON-logged line's level.
var jsonLevelKeys = []string{"level", "lvl", "severity", "levelname", "log.level"}

// parseJSON reads a JSON-logged line. The level is found without decoding
// (most lines are not counted); a counted line is decoded and its text is
// the level word, the message ("msg", "message", "event") and the error
// ("error", "err" or "exception") after
// "error:". Its "time", "ts", "timestamp" or "@timestamp" (RFC 3339, or
// seconds since the epoch) is the line's time.
func parseJSON(s string, p parsed) (parsed, bool) {
	lv := LevelNone
	for _, k := range jsonLevelKeys {
		if v, ok := jsonStringField(s, k); ok {
			lv = levelWord(v)
			break
		}
	}
	if lv == LevelNone {
		return p, false
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		// Not JSON after all: a brace at the start of a plain line.
		p.level, p.text = lv, s
		return p, true
	}
	p.level = lv
	var b strings.Builder
	b.WriteString(strings.ToUpper(lv.String()))
	for _, k := range []string{"msg", "message", "event"} {
		if v, ok := m[k].(string); ok {
			b.WriteByte(' ')
			b.WriteString(v)
			break
		}
	}
	for _, k := range []string{"error", "err", "exception"} {
		if v, ok := m[k]; ok && v != nil {
			b.WriteString(" error: ")
			if str, ok := v.(string); ok {
				b.WriteString(str)
			} else {
				enc, _ := json.Marshal(v)
				b.Write(enc)
			}
			break
		}
	}
	p.text = b.String()
	if !p.hasAt {
		for _, k := range []string{"time", "ts", "timestamp", "@timestamp"} {
			switch v := m[k].(type) {
			case string:
				if t, _, ok := parseISO(v); ok {
					p.at, p.hasAt = t, true
				}
			case float64:
				if v > 0 && v < 1e11 {
					sec := int64(v)
					p.at, p.hasAt = time.Unix(sec, int64((v-float64(sec))*1e9)).UTC(), true
				}
			}
			if p.hasAt {
				break
			}
		}
	}
	return p, true
}

// jsonStringField finds "key": "value" in a JSON text without decoding it
// (a value with escapes is returned as written). It may find a nested key:
// only the level is read this way.
func jsonStringField(s, key string) (string, bool) {
	for from := 0; ; {
		i := strings.Index(s[from:], `"`+key+`"`)
		if i < 0 {
			return "", false
		}
		j := from + i + len(key) + 2
		from = j
		v := strings.TrimLeft(s[j:], " \t")
		if !strings.HasPrefix(v, ":") {
			continue
		}
		v = strings.TrimLeft(v[1:], " \t")
		if !strings.HasPrefix(v, `"`) {
			continue
		}
		end := strings.IndexByte(v[1:], '"')
		if end < 0 {
			return "", false
		}
		return v[1 : 1+end], true
	}
}

func isLetter(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }

// isWord reports whether c is part of a word: letters, digits, underscore
// and any byte of a multi-byte UTF-8 character.
func isWord(c byte) bool { return isLetter(c) || isDigit(c) || c == '_' || c >= 0x80 }
