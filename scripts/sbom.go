//go:build ignore

// sbom writes a CycloneDX 1.5 JSON SBOM of a Go binary from the module
// graph the binary records (debug/buildinfo: the modules actually linked,
// their versions and go.sum hashes, replacements):
//
//	go run scripts/sbom.go -license Apache-2.0 -date EPOCH BINARY > opsdeck.cdx.json
//
// The document is reproducible: its timestamp is EPOCH (SOURCE_DATE_EPOCH)
// and its serial number a UUID derived from the document's own content.
package main

import (
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

type bom struct {
	BOMFormat    string       `json:"bomFormat"`
	SpecVersion  string       `json:"specVersion"`
	SerialNumber string       `json:"serialNumber"`
	Version      int          `json:"version"`
	Metadata     metadata     `json:"metadata"`
	Components   []component  `json:"components"`
	Dependencies []dependency `json:"dependencies"`
}

type metadata struct {
	Timestamp  string     `json:"timestamp"`
	Tools      tools      `json:"tools"`
	Component  component  `json:"component"`
	Properties []property `json:"properties,omitempty"`
}

type tools struct {
	Components []component `json:"components"`
}

type component struct {
	Type       string     `json:"type"`
	BOMRef     string     `json:"bom-ref,omitempty"`
	Name       string     `json:"name"`
	Version    string     `json:"version,omitempty"`
	PURL       string     `json:"purl,omitempty"`
	Hashes     []hash     `json:"hashes,omitempty"`
	Licenses   []license  `json:"licenses,omitempty"`
	Pedigree   *pedigree  `json:"pedigree,omitempty"`
	Properties []property `json:"properties,omitempty"`
}

type hash struct {
	Alg     string `json:"alg"`
	Content string `json:"content"`
}

type license struct {
	License struct {
		ID string `json:"id"`
	} `json:"license"`
}

type pedigree struct {
	Notes string `json:"notes"`
}

type property struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type dependency struct {
	Ref       string   `json:"ref"`
	DependsOn []string `json:"dependsOn"`
}

func main() {
	lic := flag.String("license", "", "SPDX licence id of the main module")
	epoch := flag.Int64("date", 0, "the document's timestamp, seconds since 1970 (SOURCE_DATE_EPOCH)")
	ver := flag.String("version", "", "the main module's version (default: what the binary records)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: go run scripts/sbom.go [-license ID] [-date EPOCH] [-version V] BINARY")
		os.Exit(2)
	}
	out, err := build(flag.Arg(0), *lic, *ver, time.Unix(*epoch, 0).UTC())
	if err != nil {
		fmt.Fprintln(os.Stderr, "sbom:", err)
		os.Exit(1)
	}
	os.Stdout.Write(out)
}

func purl(path, version string) string { return "pkg:golang/" + path + "@" + version }

// h1 turns a go.sum hash (h1:base64 of SHA-256) into hex for CycloneDX.
func h1(sum string) []hash {
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sum, "h1:"))
	if !strings.HasPrefix(sum, "h1:") || err != nil {
		return nil
	}
	return []hash{{Alg: "SHA-256", Content: hex.EncodeToString(b)}}
}

func build(bin, lic, ver string, date time.Time) ([]byte, error) {
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	if ver == "" {
		ver = bi.Main.Version
	}
	main := component{Type: "application", Name: bi.Main.Path, Version: ver, PURL: purl(bi.Main.Path, ver)}
	main.BOMRef = main.PURL
	if lic != "" {
		var l license
		l.License.ID = lic
		main.Licenses = []license{l}
	}
	b := bom{BOMFormat: "CycloneDX", SpecVersion: "1.5", Version: 1}
	b.Metadata.Timestamp = date.Format(time.RFC3339)
	b.Metadata.Tools.Components = []component{{Type: "application", Name: "opsdeck scripts/sbom.go"}}
	b.Metadata.Component = main
	b.Metadata.Properties = append(b.Metadata.Properties, property{"go.version", bi.GoVersion})
	for _, s := range bi.Settings {
		b.Metadata.Properties = append(b.Metadata.Properties, property{"go.build." + s.Key, s.Value})
	}
	dep := dependency{Ref: main.BOMRef, DependsOn: []string{}}
	for _, d := range bi.Deps {
		c := component{Type: "library", Name: d.Path, Version: d.Version, PURL: purl(d.Path, d.Version), Hashes: h1(d.Sum)}
		if r := d.Replace; r != nil {
			c.Hashes = h1(r.Sum)
			if strings.HasPrefix(r.Path, ".") || strings.HasPrefix(r.Path, "/") {
				c.Pedigree = &pedigree{Notes: "built from the copy in " + r.Path + " (changes listed in its directory)"}
			} else {
				c.Pedigree = &pedigree{Notes: "replaced by " + r.Path + "@" + r.Version}
				c.Version, c.PURL = r.Version, purl(r.Path, r.Version)
			}
		}
		c.BOMRef = c.PURL
		b.Components = append(b.Components, c)
		dep.DependsOn = append(dep.DependsOn, c.BOMRef)
	}
	sort.Slice(b.Components, func(i, j int) bool { return b.Components[i].BOMRef < b.Components[j].BOMRef })
	sort.Strings(dep.DependsOn)
	b.Dependencies = []dependency{dep}
	// The serial is a version-5-style UUID of the document without it.
	first, err := encode(b)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(first)
	u := sum[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	b.SerialNumber = fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
	return encode(b)
}

func encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	return buf.Bytes(), err
}
