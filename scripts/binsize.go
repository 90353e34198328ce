//go:build ignore

// binsize attributes an unstripped Go binary's size to its packages: each
// package's code, data and type information, with the function table
// (.gopclntab) shared out in proportion to code. For make release's size
// report (docs/release.md):
//
//	CGO_ENABLED=0 go build -trimpath -tags nodemo -o /tmp/opsdeck ./cmd/opsdeck
//	go run scripts/binsize.go /tmp/opsdeck          # by package
//	go run scripts/binsize.go /tmp/opsdeck module   # by module (std together)

package main

import (
	"debug/elf"
	"fmt"
	"os"
	"sort"
	"strings"
)

func pkgOf(sym string) string {
	for _, p := range []string{"type:", "go:itab.", "go.itab.", "go:link.", "go:"} {
		sym = strings.TrimPrefix(sym, p)
	}
	sym = strings.TrimLeft(sym, "*[]")
	// generic instantiation: cut at '['
	if i := strings.Index(sym, "["); i >= 0 {
		sym = sym[:i]
	}
	slash := strings.LastIndex(sym, "/")
	rest := sym[slash+1:]
	dot := strings.Index(rest, ".")
	if dot < 0 {
		return sym
	}
	return sym[:slash+1+dot]
}

func main() {
	f, err := elf.Open(os.Args[1])
	if err != nil {
		panic(err)
	}
	syms, err := f.Symbols()
	if err != nil {
		panic(err)
	}
	bytext := map[string]uint64{}
	byother := map[string]uint64{}
	var text uint64
	for _, s := range syms {
		if int(s.Section) <= 0 || int(s.Section) >= len(f.Sections) {
			continue
		}
		sec := f.Sections[s.Section]
		if sec.Type != elf.SHT_PROGBITS {
			continue
		}
		p := pkgOf(s.Name)
		if sec.Name == ".text" {
			bytext[p] += s.Size
			text += s.Size
		} else {
			byother[p] += s.Size
		}
	}
	var pcln uint64
	if s := f.Section(".gopclntab"); s != nil {
		pcln = s.Size
	}
	ratio := float64(pcln) / float64(text)
	tot := map[string]float64{}
	for p, n := range bytext {
		tot[p] += float64(n) * (1 + ratio)
	}
	for p, n := range byother {
		tot[p] += float64(n)
	}
	group := len(os.Args) > 2 && os.Args[2] == "module"
	if group {
		g := map[string]float64{}
		for p, n := range tot {
			parts := strings.Split(p, "/")
			k := "std"
			if strings.Contains(parts[0], ".") {
				if len(parts) > 3 && !strings.HasPrefix(p, "github.com/opsdeck/") {
					parts = parts[:3]
				}
				k = strings.Join(parts, "/")
			}
			g[k] += n
		}
		tot = g
	}
	type kv struct {
		k string
		v float64
	}
	var l []kv
	var sum float64
	for k, v := range tot {
		l = append(l, kv{k, v})
		sum += v
	}
	sort.Slice(l, func(i, j int) bool { return l[i].v > l[j].v })
	fmt.Printf("attributed %.1f MB (text %.1f MB, pclntab %.1f MB)\n", sum/1e6, float64(text)/1e6, float64(pcln)/1e6)
	for i := 0; i < 30 && i < len(l); i++ {
		fmt.Printf("%8.2f MB  %s\n", l[i].v/1e6, l[i].k)
	}
}
