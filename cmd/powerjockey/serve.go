package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/powerjockey/powerjockey/pkg/buildinfo"
	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/pkg/daemon"
)

func runServe(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := newFlagSet("serve", "--config FILE", stderr)
	cfgPath := fs.String("config", "/etc/powerjockey/powerjockey.yaml", "configuration file")
	var lf logFlags
	lf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	// The first line says which build runs, before anything can fail.
	log.Info("powerjockey starting", buildinfo.Get().LogAttrs()...)
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		log.Warn(w.Error())
	}

	// Every descriptor the limit allows: the HTTP servers' connection
	// caps are sized from it (the daemon logs how it is shared out).
	if _, err := daemon.RaiseFileLimit(); err != nil {
		log.Warn("file descriptor limit not raised", "err", err)
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	d, err := daemon.New(cfg, log)
	if err != nil {
		return err
	}
	if err := d.Start(ctx); err != nil {
		d.Stop()
		return err
	}
	defer d.Stop()
	return serveUntilDone(ctx, d, *cfgPath)
}

// serveUntilDone runs the operator HTTP server and handles SIGHUP reloads
// until ctx ends.
func serveUntilDone(ctx context.Context, d *daemon.Daemon, cfgPath string) error {
	log := d.Logger()
	httpErr := make(chan error, 1)
	go func() { httpErr <- d.RunServers(ctx) }()
	notifyReady(log)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			log.Info("shutting down")
			notifyStopping()
			if httpErr == nil { // the servers already returned (all off)
				return nil
			}
			if err := <-httpErr; err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		case err := <-httpErr:
			if err != nil {
				return err
			}
			httpErr = nil
		case <-hup:
			cfg, err := config.Load(cfgPath)
			if err != nil {
				log.Error("reload refused: the running configuration keeps serving", "err", err)
				continue
			}
			for _, w := range cfg.Warnings {
				log.Warn(w.Error())
			}
			if err := d.Reload(cfg); err != nil {
				log.Error("reload incomplete", "err", err)
			}
		}
	}
}
