package webhook

import (
	"context"
	"fmt"
	"sync"

	"github.com/backupd/backupd/internal/catalog"
	"github.com/backupd/backupd/internal/domain"
)

// ReportStore stores a batch of reports in one transaction (see
// catalog.DB.CreateReports).
type ReportStore interface {
	CreateReports(ctx context.Context, reports []domain.Backup) ([]catalog.ReportResult, error)
}

// DefaultMaxBatch bounds how many reports share one transaction, so that
// one commit (and the wait of the first sender in it) stays short.
const DefaultMaxBatch = 256

// Intake is the group-commit writer for inbound reports. Senders hand their
// record to Submit; one goroutine takes every record that is waiting (up to
// MaxBatch), stores them in one transaction and then answers each sender.
// While one batch commits the next one gathers, so the rate of commits
// (fsyncs) stays fixed while the rate of records grows with the load.
type Intake struct {
	store    ReportStore
	maxBatch int
	queue    chan *submission

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	stopped chan struct{}
}

type submission struct {
	report domain.Backup
	done   chan catalog.ReportResult // buffered: the writer never waits on a sender
}

// NewIntake returns an Intake writing to store; maxBatch <= 0 means
// DefaultMaxBatch. Call Open before Submit.
func NewIntake(store ReportStore, maxBatch int) *Intake {
	if maxBatch <= 0 {
		maxBatch = DefaultMaxBatch
	}
	in := &Intake{store: store, maxBatch: maxBatch, queue: make(chan *submission, maxBatch), stopped: make(chan struct{})}
	in.ctx, in.cancel = context.WithCancel(context.Background())
	return in
}

// Open starts the writer goroutine.
func (in *Intake) Open() {
	in.wg.Add(1)
	go func() {
		defer in.wg.Done()
		defer close(in.stopped)
		in.run()
	}()
}

// Close stops taking reports, lets the batch in flight commit and answer,
// and waits for the writer to end. Reports still waiting are refused with
// EUNAVAILABLE: their senders were not acknowledged and will retry.
func (in *Intake) Close() error {
	in.cancel()
	in.wg.Wait()
	return nil
}

// Submit stores one report and returns what was stored, after the commit.
// If ctx ends first, the report may still be committed; the sender, having
// no answer, retries with the same webhook id and is answered from the
// catalog.
func (in *Intake) Submit(ctx context.Context, report domain.Backup) (catalog.ReportResult, error) {
	s := &submission{report: report, done: make(chan catalog.ReportResult, 1)}
	select {
	case in.queue <- s:
	case <-in.ctx.Done():
		return catalog.ReportResult{}, unavailable()
	case <-ctx.Done():
		return catalog.ReportResult{}, fmt.Errorf("submit report: %w", ctx.Err())
	}
	select {
	case res := <-s.done:
		return res, res.Err
	case <-in.stopped:
		// The writer may have answered just before it stopped.
		select {
		case res := <-s.done:
			return res, res.Err
		default:
			return catalog.ReportResult{}, unavailable()
		}
	case <-ctx.Done():
		return catalog.ReportResult{}, fmt.Errorf("submit report: %w", ctx.Err())
	}
}

func unavailable() error {
	return domain.Errorf(domain.EUNAVAILABLE, "the server is shutting down; send the report again later")
}

func (in *Intake) run() {
	batch := make([]*submission, 0, in.maxBatch)
	reports := make([]domain.Backup, 0, in.maxBatch)
	for {
		batch = batch[:0]
		select {
		case <-in.ctx.Done():
			return
		case s := <-in.queue:
			batch = append(batch, s)
		}
	gather:
		for len(batch) < in.maxBatch {
			select {
			case s := <-in.queue:
				batch = append(batch, s)
			default:
				break gather
			}
		}
		reports = reports[:0]
		for _, s := range batch {
			reports = append(reports, s.report)
		}
		in.commit(batch, reports)
	}
}

// commit stores one batch. It does not use the intake's context: a batch
// that has started is finished even during Close, so that no sender is left
// not knowing whether its report was stored.
func (in *Intake) commit(batch []*submission, reports []domain.Backup) {
	results, err := in.store.CreateReports(context.WithoutCancel(in.ctx), reports)
	for i, s := range batch {
		if err != nil {
			s.done <- catalog.ReportResult{Err: err}
			continue
		}
		s.done <- results[i]
	}
}
