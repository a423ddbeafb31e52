package deploy_test

import (
	"bytes"
	"context"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"

	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/testdaemon"
)

// threeSources are a source that succeeds, one whose command exits 1, and
// one that is never run.
const threeSources = `
no_catalog_source: true
sources:
  healthy:
    kind: command
    command: ["sh", "-c", "echo the data"]
  failing:
    kind: command
    command: ["sh", "-c", "echo out of luck >&2; exit 1"]
  idle:
    kind: command
    command: ["true"]
`

var scraped struct {
	sync.Mutex
	body []byte
	at   time.Time
}

// monitored starts a daemon with threeSources, backs up healthy and
// failing once each, has a webhook refused, and returns the body of its /metrics and when it was
// scraped. The first test that asks runs the daemon; the others get the
// same scrape.
func monitored(t *testing.T) ([]byte, time.Time) {
	t.Helper()
	scraped.Lock()
	defer scraped.Unlock()
	if scraped.body == nil {
		scraped.body, scraped.at = scrapeThreeSources(t)
	}
	return scraped.body, scraped.at
}

func scrapeThreeSources(t *testing.T) ([]byte, time.Time) {
	t.Helper()
	d := testdaemon.Start(t, testdaemon.Options{Config: threeSources})
	for source, want := range map[string]domain.Status{"healthy": domain.StatusSucceeded, "failing": domain.StatusFailed} {
		b, err := d.Client().CreateBackup(context.Background(), source)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.WaitBackup(b.ID); got.Status != want {
			t.Fatalf("backup of %s: %s (%s), want %s", source, got.Status, got.Error, want)
		}
	}
	// One unsigned report, refused, gives the rejection counter (a vector
	// without series until then) a series for the dashboard to find.
	resp, err := http.Post(d.URL+"/api/v1/webhooks/backup", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	at := time.Now()
	resp, err = http.Get(d.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	return body, at
}

func parseExposition(t *testing.T, body []byte) map[string]*dto.MetricFamily {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

func loadRules(t *testing.T) map[string]rulefmt.Rule {
	t.Helper()
	groups, errs := rulefmt.ParseFile("prometheus-alerts.yaml", false)
	if len(errs) > 0 {
		t.Fatalf("prometheus-alerts.yaml: %v", errs)
	}
	rules := map[string]rulefmt.Rule{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			rules[r.Alert] = r
		}
	}
	return rules
}

// firing returns the sources (or "" for a series without one) that expr
// returns at time at: those it would alert for.
func firing(t *testing.T, st *memStorage, expr string, at time.Time) []string {
	t.Helper()
	var out []string
	for _, s := range st.eval(t, expr, at) {
		out = append(out, s.Metric.Get("source"))
	}
	slices.Sort(out)
	return out
}

func TestAlertsFireForTheRightSources(t *testing.T) {
	body, at := monitored(t)
	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	fams := parseExposition(t, body)
	checkSourceSeries(t, fams)

	rules := loadRules(t)
	want := map[string][]string{
		"BackupdBackupStale":   {"failing", "idle"},
		"BackupdBackupFailing": {"failing"},
		"BackupdBackupShrank":  nil,
		"BackupdMetricsAbsent": nil,
	}
	if got := slices.Sorted(maps.Keys(rules)); !slices.Equal(got, slices.Sorted(maps.Keys(want))) {
		t.Fatalf("alerts in prometheus-alerts.yaml: %v, want %v", got, slices.Sorted(maps.Keys(want)))
	}
	st := newMemStorage()
	st.add(t, at, fams, nil)
	for name, sources := range want {
		if got := firing(t, st, rules[name].Expr, at); !slices.Equal(got, sources) {
			t.Errorf("%s (%s) fires for %q, want %q", name, rules[name].Expr, got, sources)
		}
	}

	// The same scrape an hour before, with healthy four times as large: its
	// backup shrank.
	grown := newMemStorage()
	grown.add(t, at.Add(-time.Hour), fams, func(ls labels.Labels, v float64) float64 {
		if ls.Get("source") == "healthy" && ls.Get("__name__") == "backupd_last_success_size_bytes" {
			return 4 * v
		}
		return v
	})
	grown.add(t, at, fams, nil)
	if got, want := firing(t, grown, rules["BackupdBackupShrank"].Expr, at), []string{"healthy"}; !slices.Equal(got, want) {
		t.Errorf("BackupdBackupShrank after a drop to a quarter fires for %q, want %q", got, want)
	}
	// Nothing scraped: the daemon is gone.
	if got, want := firing(t, newMemStorage(), rules["BackupdMetricsAbsent"].Expr, at), []string{""}; !slices.Equal(got, want) {
		t.Errorf("BackupdMetricsAbsent without metrics fires for %q, want %q", got, want)
	}
}

// checkSourceSeries checks that every configured source has its times,
// and an outcome once it was attempted.
func checkSourceSeries(t *testing.T, fams map[string]*dto.MetricFamily) {
	t.Helper()
	values := func(name string) map[string]float64 {
		out := map[string]float64{}
		if f := fams[name]; f != nil {
			for _, m := range f.Metric {
				for _, l := range m.Label {
					if l.GetName() == "source" {
						out[l.GetValue()] = m.GetGauge().GetValue()
					}
				}
			}
		}
		return out
	}
	success, attempt, ok := values("backupd_last_success_timestamp_seconds"), values("backupd_last_attempt_timestamp_seconds"), values("backupd_last_attempt_success")
	if len(success) != 3 || success["healthy"] == 0 || success["failing"] != 0 || success["idle"] != 0 {
		t.Errorf("backupd_last_success_timestamp_seconds: %v, want healthy's time and 0 for failing and idle", success)
	}
	if len(attempt) != 3 || attempt["healthy"] == 0 || attempt["failing"] == 0 || attempt["idle"] != 0 {
		t.Errorf("backupd_last_attempt_timestamp_seconds: %v, want the times of healthy and failing and 0 for idle", attempt)
	}
	if len(ok) != 2 || ok["healthy"] != 1 || ok["failing"] != 0 {
		t.Errorf("backupd_last_attempt_success: %v, want healthy 1, failing 0, none for idle", ok)
	}
}
