package deploy_test

import (
	"context"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

// The scraped metrics are put in a storage that Prometheus's own PromQL
// engine queries, so that the alert rules are evaluated exactly as a
// Prometheus server would evaluate them.

// scrapeTarget are the labels Prometheus adds to every scraped series.
var scrapeTarget = map[string]string{"job": "backupd", "instance": "backupd-test:8080"}

// memStorage is a storage.Queryable of a few series held in memory.
type memStorage struct{ series map[string]*memSeries }

type memSeries struct {
	labels  labels.Labels
	samples []chunks.Sample
}

type sample struct {
	t int64
	f float64
}

func (s sample) T() int64                      { return s.t }
func (s sample) F() float64                    { return s.f }
func (s sample) H() *histogram.Histogram       { return nil }
func (s sample) FH() *histogram.FloatHistogram { return nil }
func (s sample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s sample) Copy() chunks.Sample           { return s }

func newMemStorage() *memStorage { return &memStorage{series: map[string]*memSeries{}} }

// add appends the samples of families, as scraped at time at, with the
// target's labels; scale, if not nil, changes a sample's value first.
func (m *memStorage) add(t *testing.T, at time.Time, families map[string]*dto.MetricFamily, scale func(labels.Labels, float64) float64) {
	t.Helper()
	fams := make([]*dto.MetricFamily, 0, len(families))
	for _, f := range families {
		fams = append(fams, f)
	}
	vec, err := expfmt.ExtractSamples(&expfmt.DecodeOptions{Timestamp: model.TimeFromUnixNano(at.UnixNano())}, fams...)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range vec {
		b := labels.NewBuilder(labels.EmptyLabels())
		for k, v := range scrapeTarget {
			b.Set(k, v)
		}
		for k, v := range s.Metric {
			b.Set(string(k), string(v))
		}
		ls := b.Labels()
		v := float64(s.Value)
		if scale != nil {
			v = scale(ls, v)
		}
		key := ls.String()
		if m.series[key] == nil {
			m.series[key] = &memSeries{labels: ls}
		}
		ser := m.series[key]
		ser.samples = append(ser.samples, sample{t: int64(s.Timestamp), f: v})
	}
}

// eval runs expr at time at, as a rule evaluation would.
func (m *memStorage) eval(t *testing.T, expr string, at time.Time) promql.Vector {
	t.Helper()
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	q, err := engine.NewInstantQuery(context.Background(), m, nil, expr, at)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	defer q.Close()
	res := q.Exec(context.Background())
	vec, err := res.Vector()
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return vec
}

func (m *memStorage) Querier(_, _ int64) (storage.Querier, error) { return m, nil }

func (m *memStorage) Select(_ context.Context, _ bool, _ *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	set := &seriesSet{i: -1}
	for _, s := range m.series {
		if matchAll(s.labels, ms) {
			set.list = append(set.list, storage.NewListSeries(s.labels, s.samples))
		}
	}
	return set
}

func matchAll(ls labels.Labels, ms []*labels.Matcher) bool {
	for _, mt := range ms {
		if !mt.Matches(ls.Get(mt.Name)) {
			return false
		}
	}
	return true
}

func (m *memStorage) LabelValues(context.Context, string, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (m *memStorage) LabelNames(context.Context, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (m *memStorage) Close() error { return nil }

type seriesSet struct {
	list []storage.Series
	i    int
}

func (s *seriesSet) Next() bool                        { s.i++; return s.i < len(s.list) }
func (s *seriesSet) At() storage.Series                { return s.list[s.i] }
func (s *seriesSet) Err() error                        { return nil }
func (s *seriesSet) Warnings() annotations.Annotations { return nil }
