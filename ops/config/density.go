package config

import (
	"fmt"
	"strings"
)

// The configuration file is read by goccy/go-yaml, which allocates
// 600–1,000 bytes for every token (the lexer's token, the parser's node,
// the decoder's copy) and, for collections nested in flow style ([[[…]]]),
// more with every level. A file dense with tokens — a long flow list, a
// line of brackets — would make the loader allocate hundreds of times its
// size. Like every reader of bytes from the user or the store, the loader
// keeps to 64 times the input plus 1 MiB: Parse refuses, before parsing,
// a file whose estimated cost is above that. A real configuration costs a
// small part of it (the documented example, 12.5 KB: about 1 MB).
const (
	// yamlTokenCost is the cost charged per estimated token.
	yamlTokenCost = 1024
	// yamlBudgetFactor and yamlBudgetSlack are the loader's allocation
	// bound: yamlBudgetFactor times the file's size plus yamlBudgetSlack.
	yamlBudgetFactor = 64
	yamlBudgetSlack  = 1 << 20
	// yamlFixedCost is what loading any file costs (the defaults, the
	// field index), charged first.
	yamlFixedCost = 128 << 10
)

// yamlTokens estimates, from above, the tokens go-yaml makes of data:
// a line, a comment, a quoted string and each indicator count one, a
// collection opened in flow style counts as many as it is deep (the
// parser's cost grows with the depth). A plain scalar is not counted: it
// is bounded by the indicators and the line ends around it, charged in
// yamlTokenCost. Characters that are indicators only at the start or the
// end of a token (- : ? # & * ! quotes …) are counted there only, so that
// "postgres://db" or "team-a" count as the one scalar they are. It
// allocates nothing.
func yamlTokens(data []byte) int {
	tokens, depth := 1, 0
	// start: a token may start at i; end: one ends after i.
	start := func(i int) bool {
		return i == 0 || strings.IndexByte(" \t\r\n[]{},", data[i-1]) >= 0
	}
	end := func(i int) bool {
		return i+1 == len(data) || strings.IndexByte(" \t\r\n]},", data[i+1]) >= 0
	}
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '\n':
			tokens++
		case '[', '{':
			depth++
			tokens += 1 + depth
		case ']', '}':
			depth = max(depth-1, 0)
			tokens++
		case ',':
			tokens++
		case '-', ':', '?':
			if end(i) {
				tokens++
			}
		case '#':
			if start(i) {
				tokens++
				for i+1 < len(data) && data[i+1] != '\n' {
					i++
				}
			}
		case '"', '\'':
			if start(i) {
				tokens++
				for i++; i < len(data) && data[i] != c; i++ {
					if c == '"' && data[i] == '\\' {
						i++
					}
				}
			}
		case '&', '*', '!', '|', '>', '%', '@', '`':
			if start(i) {
				tokens++
			}
		}
	}
	return tokens
}

// checkDensity refuses a file that would cost more than the loader's
// bound to parse.
func checkDensity(name string, data []byte) error {
	tokens := yamlTokens(data)
	cost := yamlFixedCost + uint64(tokens)*yamlTokenCost
	if bound := yamlBudgetFactor*uint64(len(data)) + yamlBudgetSlack; cost > bound {
		return &FieldError{File: name, Reason: fmt.Sprintf("%d bytes with about %d YAML tokens (or collections nested that deep) would take more memory to load than opsdeck allows for a file that size", len(data), tokens),
			Hint: "a configuration file is a few hundred lines of keys and values; write long lists one item per line"}
	}
	return nil
}
