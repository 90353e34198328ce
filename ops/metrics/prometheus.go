package metrics

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/redact"
)

// PrometheusSampler runs the configured PromQL panels as instant queries,
// concurrently, each bounded by the sample's context.
type PrometheusSampler struct {
	api      promv1.API
	host     string
	secrets  []string
	interval time.Duration
	panels   []config.Panel
	series   []SeriesInfo
}

// NewPrometheusSampler queries the Prometheus at rawURL every interval;
// connectTimeout bounds dialing. The URL may carry basic-auth credentials,
// which never appear in errors.
func NewPrometheusSampler(rawURL string, connectTimeout, interval time.Duration, panels []config.Panel, th config.Thresholds) (*PrometheusSampler, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("prometheus.url %q is not a URL — use e.g. http://prometheus:9090", redact.URL(rawURL))
	}
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   connectTimeout,
		ResponseHeaderTimeout: 30 * time.Second,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
	client, err := api.NewClient(api.Config{Address: rawURL, RoundTripper: transport})
	if err != nil {
		return nil, fmt.Errorf("prometheus client for %s: %w", u.Host, err)
	}
	p := &PrometheusSampler{api: promv1.NewAPI(client), host: u.Host, secrets: redact.Passwords(rawURL), interval: interval, panels: panels}
	for _, pn := range panels {
		p.series = append(p.series, panelSeries("prometheus", LevelApplication, pn, th))
	}
	return p, nil
}

// panelSeries describes a configured panel's series.
func panelSeries(source string, level Level, p config.Panel, th config.Thresholds) SeriesInfo {
	n, _ := th.PanelLimit(p) // Validate checked the name
	return SeriesInfo{ID: source + "." + p.Name, Source: source, Level: level, Title: p.DisplayTitle(), Unit: Unit(p.Unit), Threshold: thresholdFrom(n, 1)}
}

// Name implements Sampler.
func (p *PrometheusSampler) Name() string { return "prometheus" }

// Interval implements Sampler.
func (p *PrometheusSampler) Interval() time.Duration { return p.interval }

// Series implements Sampler.
func (p *PrometheusSampler) Series() []SeriesInfo { return p.series }

// Sample implements Sampler. A query Prometheus rejects (bad PromQL, an
// evaluation error) fails its panel only; a Prometheus that cannot be
// reached fails the sample.
func (p *PrometheusSampler) Sample(ctx context.Context, now time.Time) ([]Reading, error) {
	rs := make([]Reading, len(p.panels))
	errs := make([]error, len(p.panels))
	var wg sync.WaitGroup
	for i, pn := range p.panels {
		wg.Go(func() { rs[i], errs[i] = p.query(ctx, pn, now) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return rs, nil
}

func (p *PrometheusSampler) query(ctx context.Context, pn config.Panel, now time.Time) (Reading, error) {
	id := "prometheus." + pn.Name
	opts := []promv1.Option{}
	if dl, ok := ctx.Deadline(); ok {
		// Whole seconds: Prometheus reads "4.9s" as no duration at all.
		opts = append(opts, promv1.WithTimeout(max(time.Until(dl).Truncate(time.Second), time.Second)))
	}
	v, warnings, _, err := p.api.Query(ctx, pn.Query, now, opts...)
	if err != nil {
		var pe *promv1.Error
		if errors.As(err, &pe) {
			switch pe.Type {
			case promv1.ErrBadData, promv1.ErrExec, promv1.ErrTimeout:
				return Reading{ID: id, Value: math.NaN(), Err: fmt.Errorf("query rejected (%s): %s — fix it in metrics.prometheus", pe.Type, redact.String(pe.Msg, p.secrets...))}, nil
			}
			return Reading{}, fmt.Errorf("prometheus at %s answered %s: %s — check prometheus.url and its credentials", p.host, pe.Type, redact.String(pe.Msg, p.secrets...))
		}
		return Reading{}, fmt.Errorf("prometheus unreachable at %s: %s — check that it runs and prometheus.url", p.host, redact.String(err.Error(), p.secrets...))
	}
	r := valueReading(id, v)
	if len(warnings) > 0 {
		r.Detail = strings.TrimSpace(r.Detail + " · " + strings.Join(warnings, "; "))
	}
	return r, nil
}

// valueReading reads one number from a query result: a scalar, or a vector
// with one element (several are summed, and the detail says so).
func valueReading(id string, v model.Value) Reading {
	switch x := v.(type) {
	case *model.Scalar:
		return Reading{ID: id, Value: float64(x.Value)}
	case model.Vector:
		switch len(x) {
		case 0:
			return Reading{ID: id, Value: math.NaN(), Detail: "no data: the query matched no series"}
		case 1:
			return Reading{ID: id, Value: float64(x[0].Value), Detail: labelsOf(x[0].Metric)}
		}
		sum := 0.0
		for _, s := range x {
			sum += float64(s.Value)
		}
		return Reading{ID: id, Value: sum, Detail: fmt.Sprintf("sum of %d series: aggregate the query with sum()", len(x))}
	}
	return Reading{ID: id, Value: math.NaN(), Err: fmt.Errorf("the query returns a %s, not a number — use an instant vector or scalar", v.Type())}
}

func labelsOf(m model.Metric) string {
	if len(m) == 0 {
		return ""
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, string(k))
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, n+"="+string(m[model.LabelName(n)]))
	}
	return strings.Join(parts, " ")
}
