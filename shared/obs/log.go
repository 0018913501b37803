package obs

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// LogFormat selects the slog handler.
type LogFormat string

const (
	// LogJSON writes one JSON object per record, for log shippers.
	LogJSON LogFormat = "json"
	// LogText writes logfmt-like key=value lines, for humans at a terminal.
	LogText LogFormat = "text"
)

// LogConfig is the logging part of a binary's configuration.
type LogConfig struct {
	// Level is debug, info, warn or error (case-insensitive).
	Level string `json:"level"`
	// Format is json or text.
	Format LogFormat `json:"format"`
}

// DefaultLogConfig returns info-level text logs.
func DefaultLogConfig() LogConfig { return LogConfig{Level: "info", Format: LogText} }

// ErrLogConfig is wrapped by every logging configuration error.
var ErrLogConfig = errors.New("invalid log configuration")

// ParseLevel turns debug|info|warn|error (case-insensitive) into a slog.Level.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%w: level %q (want debug, info, warn or error)", ErrLogConfig, s)
}

// Validate reports whether the configuration can build a logger.
func (c LogConfig) Validate() error {
	if _, err := ParseLevel(c.Level); err != nil {
		return err
	}
	switch c.Format {
	case LogJSON, LogText:
		return nil
	}
	return fmt.Errorf("%w: format %q (want json or text)", ErrLogConfig, c.Format)
}

// NewLogger builds the process logger writing to w. It does not install it as slog's default:
// the caller injects it.
func NewLogger(w io.Writer, cfg LogConfig) (*slog.Logger, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lvl, _ := ParseLevel(cfg.Level) // validated above
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.Format == LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}
