package natsbus

import (
	"fmt"
	"log/slog"
	"sync/atomic"
)

// serverLogger adapts nats-server's printf-style Logger to slog. nats-server formats its own
// messages, so the text goes into the "detail" attribute under a constant message.
type serverLogger struct {
	log   *slog.Logger
	fatal atomic.Pointer[string] // last Fatalf text: the server logs startup failures this way
}

// Noticef goes to debug: nats-server's notices are its startup banner and routine events;
// natsbus logs its own "nats ready" line at info.
func (l *serverLogger) Noticef(format string, v ...any) {
	l.log.Debug("nats-server", "detail", fmt.Sprintf(format, v...))
}

func (l *serverLogger) Warnf(format string, v ...any) {
	l.log.Warn("nats-server", "detail", fmt.Sprintf(format, v...))
}

// Fatalf must not exit: the embedded server's failure is returned by Open instead.
func (l *serverLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.fatal.Store(&msg)
	l.log.Error("nats-server fatal", "detail", msg)
}

func (l *serverLogger) Errorf(format string, v ...any) {
	l.log.Error("nats-server", "detail", fmt.Sprintf(format, v...))
}

func (l *serverLogger) Debugf(format string, v ...any) {
	l.log.Debug("nats-server", "detail", fmt.Sprintf(format, v...))
}

func (l *serverLogger) Tracef(format string, v ...any) {
	l.log.Debug("nats-server trace", "detail", fmt.Sprintf(format, v...))
}
