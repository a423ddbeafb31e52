package deploy_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
)

// dashboard is the part of a Grafana dashboard that the test reads.
type dashboard struct {
	Title      string `json:"title"`
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// grafanaVars stand in for what Grafana puts in a query before sending it.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h",
	"$instance", ".*", "$source", ".*")

// TestDashboardQueries checks that every panel of the Grafana dashboard
// asks, in valid PromQL, for metrics the daemon exports.
func TestDashboardQueries(t *testing.T) {
	raw, err := os.ReadFile("grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	if d.Title == "" || d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("grafana-dashboard.json: title %q, uid %q, %d panels", d.Title, d.UID, len(d.Panels))
	}
	body, _ := monitored(t)
	exported := map[string]bool{}
	for name, f := range parseExposition(t, body) {
		exported[name] = true
		for _, suffix := range []string{"_bucket", "_sum", "_count"} { // histograms
			if f.GetType().String() == "HISTOGRAM" {
				exported[name+suffix] = true
			}
		}
	}
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			expr, err := parser.ParseExpr(grafanaVars.Replace(tg.Expr))
			if err != nil {
				t.Errorf("panel %q: %s: %v", p.Title, tg.Expr, err)
				continue
			}
			for _, name := range metricNames(expr) {
				if !exported[name] {
					t.Errorf("panel %q asks for %s, which the daemon does not export", p.Title, name)
				}
			}
		}
	}
}

func metricNames(expr parser.Expr) []string {
	var out []string
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			out = append(out, vs.Name)
		}
		return nil
	})
	return out
}
