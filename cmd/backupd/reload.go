package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/backupd/backupd/internal/config"
	"github.com/backupd/backupd/internal/domain"
	"github.com/backupd/backupd/internal/httpapi"
	"github.com/backupd/backupd/internal/webhook"
)

// reloader applies a new config to the running daemon, on SIGHUP or
// POST /api/v1/admin/reload: sources, schedules, retention, tokens,
// webhooks and the shutdown grace. Running backups go on with what they
// started with. A config that does not pass check is refused whole and
// the old one stays; keys only a restart can apply (listen, data_dir,
// storage, tls, ...) are named in the outcome and the log. Every outcome
// is logged and recorded as a config.reloaded event.
type reloader struct {
	mu   sync.Mutex // one reload at a time
	load func() (config.Config, error)
	d    *daemon
	api  *httpapi.Server
	recv *webhook.Receiver
	disp *webhook.Dispatcher
	// names are the configured sources, for the metrics collector.
	names atomic.Pointer[[]string]
}

// reloadable are the top-level config keys a reload applies.
var reloadable = []string{"sources", "auth", "webhooks", "shutdown_grace"}

// sourceNames returns the configured source names.
func (rl *reloader) sourceNames() []string { return *rl.names.Load() }

// reload reads the config again and applies it; why ("SIGHUP", "API")
// goes into the log. A refused config is an EINVALID error.
func (rl *reloader) reload(ctx context.Context, why string) (domain.ReloadResult, error) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	log := rl.d.log.With("component", "reload", "by", why)
	res, err := rl.apply(ctx, log)
	if err != nil {
		res = domain.ReloadResult{Error: err.Error(), Applied: []string{}, RestartNeeded: []string{}}
		log.Error("config reload refused; the previous config stays in force", "err", err)
	} else {
		log.Info("config reloaded", "applied", strings.Join(res.Applied, ","), "restart_needed", strings.Join(res.RestartNeeded, ","))
		if len(res.RestartNeeded) > 0 {
			log.Warn("config keys changed that only a restart applies", "keys", strings.Join(res.RestartNeeded, ","))
		}
	}
	rl.record(ctx, res, log)
	if err != nil {
		return res, domain.Errorf(domain.EINVALID, "the new config was refused, the previous one stays in force: %v", err)
	}
	return res, nil
}

// apply loads, checks and applies the config. Nothing is applied unless
// everything that can fail has succeeded.
func (rl *reloader) apply(ctx context.Context, log *slog.Logger) (domain.ReloadResult, error) {
	cfg, err := rl.load()
	if err != nil {
		return domain.ReloadResult{}, err
	}
	c, err := check(cfg, log)
	if err != nil {
		return domain.ReloadResult{}, err
	}
	old := rl.d.cfg
	res := domain.ReloadResult{OK: true, Applied: changedKeys(old, cfg, reloadable), RestartNeeded: changedKeys(old, cfg, nil)}
	res.RestartNeeded = slices.DeleteFunc(res.RestartNeeded, func(k string) bool { return slices.Contains(reloadable, k) })
	// The one step that does I/O (registering endpoints in the catalog)
	// goes first: if it fails, nothing else has changed.
	if err := rl.disp.SetEndpoints(ctx, cfg.Webhooks.Outbound); err != nil {
		return res, err
	}
	if err := rl.recv.Reload(cfg.Webhooks.Secrets, cfg.Webhooks.TrustedProxies); err != nil {
		return res, err // cannot happen: check built a receiver from the same
	}
	if err := rl.d.run.ReplaceSchedules(schedulesOf(cfg)); err != nil {
		return res, err // nor this: check parsed every schedule
	}
	rl.d.run.SetSpecs(c.specs)
	rl.api.Reload(apiTokens(cfg.Auth), sourceInfos(cfg, c.specs))
	names := specNames(c.specs)
	rl.names.Store(&names)
	rl.d.cfg.Sources, rl.d.cfg.Auth, rl.d.cfg.Webhooks, rl.d.cfg.ShutdownGrace = cfg.Sources, cfg.Auth, cfg.Webhooks, cfg.ShutdownGrace
	for _, w := range c.preflight {
		log.Warn("a source would fail if it ran now", "problem", w)
	}
	return res, nil
}

// record appends the config.reloaded event.
func (rl *reloader) record(ctx context.Context, res domain.ReloadResult, log *slog.Logger) {
	data, _ := json.Marshal(res)
	if _, err := rl.d.db.AppendEvent(context.WithoutCancel(ctx), domain.EventConfigReloaded, data); err != nil {
		log.Error("record the reload's outcome", "err", err)
	}
}

// changedKeys returns the top-level keys (yaml names) whose values differ
// between a and b, among only (all keys when only is nil), sorted.
func changedKeys(a, b config.Config, only []string) []string {
	out := []string{}
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	t := va.Type()
	for i := range t.NumField() {
		key, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if key == "" || key == "-" || (only != nil && !slices.Contains(only, key)) {
			continue
		}
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			out = append(out, key)
		}
	}
	slices.Sort(out)
	return out
}

// reloadOnHangup answers SIGHUP: the TLS certificate is read again, and
// the config is reloaded.
func (d *daemon) reloadOnHangup(ctx context.Context) {
	if d.certs != nil {
		if err := d.certs.Reload(); err != nil {
			d.log.Error("SIGHUP: the TLS certificate did not reload; still serving the previous one", "err", err)
		} else {
			d.log.Info("SIGHUP: reloaded the TLS certificate", d.certs.attrs()...)
		}
	}
	if d.reload == nil {
		return
	}
	_, _ = d.reload.reload(ctx, "SIGHUP") // logged and recorded there
}
