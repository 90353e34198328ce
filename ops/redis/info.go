package redis

import (
	"sort"
	"strconv"
	"strings"
)

// Info is the parsed reply of INFO: section name (lower case, e.g.
// "memory") to field to raw value.
type Info map[string]map[string]string

// ParseInfo parses the text INFO returns: "# Section" headers followed by
// "field:value" lines, CRLF or LF line ends. Lines before any header go
// into section "". Malformed lines are skipped.
func ParseInfo(text string) Info {
	info := Info{}
	section := ""
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			continue
		}
		if name, ok := strings.CutPrefix(line, "#"); ok {
			section = strings.ToLower(strings.TrimSpace(name))
			continue
		}
		field, value, ok := strings.Cut(line, ":")
		if !ok || field == "" {
			continue
		}
		if info[section] == nil {
			info[section] = map[string]string{}
		}
		info[section][field] = value
	}
	return info
}

// Get returns a field of a section.
func (i Info) Get(section, field string) (string, bool) {
	v, ok := i[section][field]
	return v, ok
}

// Int returns a field as an integer; ok is false when it is absent or not
// a number.
func (i Info) Int(section, field string) (int64, bool) {
	v, ok := i.Get(section, field)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

// Float returns a field as a float; ok is false when it is absent or not a
// number.
func (i Info) Float(section, field string) (float64, bool) {
	v, ok := i.Get(section, field)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	return f, err == nil
}

// KeyspaceDB is one line of INFO keyspace, e.g.
// "db0:keys=12,expires=3,avg_ttl=5000".
type KeyspaceDB struct {
	DB      int   `json:"db"`
	Keys    int64 `json:"keys"`
	Expires int64 `json:"expires"`
	// AvgTTLMillis is the server's estimate of the mean TTL of keys that have one.
	AvgTTLMillis int64 `json:"avg_ttl_ms"`
}

// Keyspace returns the keyspace section as a list sorted by database
// number. Lines that do not parse are skipped.
func (i Info) Keyspace() []KeyspaceDB {
	out := []KeyspaceDB{}
	for field, value := range i["keyspace"] {
		num, ok := strings.CutPrefix(field, "db")
		if !ok {
			continue
		}
		db, err := strconv.Atoi(num)
		if err != nil {
			continue
		}
		k := KeyspaceDB{DB: db}
		for pair := range strings.SplitSeq(value, ",") {
			name, v, _ := strings.Cut(pair, "=")
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				continue
			}
			switch name {
			case "keys":
				k.Keys = n
			case "expires":
				k.Expires = n
			case "avg_ttl":
				k.AvgTTLMillis = n
			}
		}
		out = append(out, k)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].DB < out[b].DB })
	return out
}
