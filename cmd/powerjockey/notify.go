package main

import (
	"log/slog"

	"github.com/powerjockey/powerjockey/pkg/sdnotify"
)

func notifyReady(log *slog.Logger) {
	if _, err := sdnotify.Notify("READY=1"); err != nil {
		log.Warn("cannot notify systemd", "err", err)
	}
}

func notifyStopping() { _, _ = sdnotify.Notify("STOPPING=1") }
