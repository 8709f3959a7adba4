package testkit

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Sample is one series of a scrape: its name with labels as the text
// exposition writes them (`name{a="1",b="2"}`, labels sorted by name) and
// its value. Histograms and summaries give their _sum and _count.
type Sample struct {
	Series string
	Value  float64
}

// Scrape reads the Prometheus exposition at url (the daemon's /metrics)
// with Prometheus' own text parser, for tests of a process whose registry
// is out of reach (in-process registries: client_golang's testutil).
func Scrape(t testing.TB, url string) []Sample {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	var out []Sample
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			labels := seriesLabels(m)
			switch {
			case m.Gauge != nil:
				out = append(out, Sample{name + labels, m.GetGauge().GetValue()})
			case m.Counter != nil:
				out = append(out, Sample{name + labels, m.GetCounter().GetValue()})
			case m.Untyped != nil:
				out = append(out, Sample{name + labels, m.GetUntyped().GetValue()})
			case m.Histogram != nil:
				out = append(out, Sample{name + "_sum" + labels, m.GetHistogram().GetSampleSum()},
					Sample{name + "_count" + labels, float64(m.GetHistogram().GetSampleCount())})
			case m.Summary != nil:
				out = append(out, Sample{name + "_sum" + labels, m.GetSummary().GetSampleSum()},
					Sample{name + "_count" + labels, float64(m.GetSummary().GetSampleCount())})
			}
		}
	}
	return out
}

// seriesLabels renders a series' labels as the exposition does.
func seriesLabels(m *dto.Metric) string {
	if len(m.GetLabel()) == 0 {
		return ""
	}
	parts := make([]string, 0, len(m.GetLabel()))
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+strconv.Quote(l.GetValue()))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// MetricSum adds the values of the series of a scrape of url that start
// with prefix (a name, or a name and leading labels: `x_total{node="n0"`).
func MetricSum(t testing.TB, url, prefix string) float64 {
	t.Helper()
	var sum float64
	for _, s := range Scrape(t, url) {
		if strings.HasPrefix(s.Series, prefix) {
			sum += s.Value
		}
	}
	return sum
}

// MetricValue is the value of the first series of a scrape of url that
// starts with prefix, formatted as the exposition writes it; "" when there
// is none.
func MetricValue(t testing.TB, url, prefix string) string {
	t.Helper()
	samples := Scrape(t, url)
	best := ""
	found := false
	for _, s := range samples {
		// The exposition is sorted; so is this choice among several.
		if strings.HasPrefix(s.Series, prefix) && (!found || s.Series < best) {
			best, found = s.Series, true
		}
	}
	if !found {
		return ""
	}
	for _, s := range samples {
		if s.Series == best {
			return strconv.FormatFloat(s.Value, 'g', -1, 64)
		}
	}
	return ""
}
