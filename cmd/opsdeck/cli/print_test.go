package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/opsdeck/opsdeck/ops/health"
	"github.com/opsdeck/opsdeck/ops/progress"
)

func TestPrinterResult(t *testing.T) {
	for _, tc := range []struct {
		format Output
		want   string
	}{
		{"text", "text\n"},
		{"json", "{\n  \"a\": \"<b>\"\n}\n"},
	} {
		var out bytes.Buffer
		p := &Printer{Out: &out, Format: tc.format}
		err := p.Result(map[string]string{"a": "<b>"}, func() error {
			_, err := out.WriteString("text\n")
			return err
		})
		if err != nil || out.String() != tc.want {
			t.Errorf("-o %s: %q, %v; want %q", tc.format, out.String(), err, tc.want)
		}
	}
}

func TestPrinterTableAndStatus(t *testing.T) {
	var out bytes.Buffer
	p := &Printer{Out: &out}
	tb := p.Table("TARGET", "STATUS", "VALUE")
	tb.Row("postgres", p.Status(health.OK), Clip("a long value that is clipped", 10))
	tb.Row("redis", p.Status(health.Crit), "x")
	if err := tb.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "TARGET    STATUS  VALUE\npostgres  OK      a long va…\nredis     CRIT    x\n"
	if out.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", out.String(), want)
	}
	p.Colour = true
	if got := p.Status(health.Warn); got != "\x1b[33mWARN   \x1b[0m" {
		t.Errorf("coloured status %q", got)
	}
}

func TestPrinterProgress(t *testing.T) {
	var errw bytes.Buffer
	p := &Printer{Err: &errw}
	at := time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)
	events := []progress.Event{
		{At: at, Kind: progress.Start, Step: "database"},
		{At: at, Kind: progress.Advance, Step: "database", Done: 1, Total: 4},
		{At: at, Kind: progress.Advance, Step: "database", Done: 2, Total: 4}, // within 2s of the last: dropped
		{At: at, Kind: progress.Warn, Step: "database", Message: "slow"},
		{At: at, Kind: progress.Finish, Step: "database"},
	}
	all := p.Progress(false)
	for _, e := range events {
		all(e)
	}
	want := "02:00:00 start database\n02:00:00 advance database 1/4\n02:00:00 warn database: slow\n02:00:00 finish database\n"
	if errw.String() != want {
		t.Errorf("progress:\n%s\nwant:\n%s", errw.String(), want)
	}
	errw.Reset()
	quiet := p.Progress(true)
	for _, e := range events {
		quiet(e)
	}
	if got := errw.String(); got != "02:00:00 warn database: slow\n" {
		t.Errorf("quiet progress: %q", got)
	}
	if strings.Contains(Clip("ok", 10), "…") {
		t.Error("a short value was clipped")
	}
}
