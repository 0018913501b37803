package settings

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrInvalid is wrapped by Load's errors when the Table names no Err of its own.
var ErrInvalid = errors.New("invalid configuration")

// Setting is one knob of a config of type C, reachable from a flag and an environment variable.
// Build it with String, Masked, Bool, Int, Int32, Int64, Uint64, Float64 or Duration.
type Setting[C any] struct {
	Flag  string // flag name without dashes
	Env   string // environment variable name
	Usage string // one line for --help and the Markdown table

	set      func(c *C, v string) error
	get      func(c *C) string
	bareBool bool // the flag may be given without a value (--x means --x=true)
}

// RequireValue returns s with its flag needing an explicit value even for a Bool
// (--x=true, not --x), and shown in --help as taking a value.
func (s Setting[C]) RequireValue() Setting[C] {
	s.bareBool = false
	return s
}

// String is a plain string setting.
func String[C any](flagName, env, usage string, p func(*C) *string) Setting[C] {
	return Setting[C]{Flag: flagName, Env: env, Usage: usage,
		set: func(c *C, v string) error { *p(c) = v; return nil },
		get: func(c *C) string { return *p(c) }}
}

// Masked is a string-kinded setting shown through its String method, so a secret type whose
// String masks it stays masked in --help and the Markdown table.
func Masked[C any, S interface {
	~string
	String() string
}](flagName, env, usage string, p func(*C) *S) Setting[C] {
	return Setting[C]{Flag: flagName, Env: env, Usage: usage,
		set: func(c *C, v string) error { *p(c) = S(v); return nil },
		get: func(c *C) string { return (*p(c)).String() }}
}

// Bool is a boolean setting (strconv.ParseBool); its flag may be given bare (--x means true).
func Bool[C any](flagName, env, usage string, p func(*C) *bool) Setting[C] {
	return Setting[C]{Flag: flagName, Env: env, Usage: usage, bareBool: true,
		set: func(c *C, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("want true or false, got %q", v)
			}
			*p(c) = b
			return nil
		},
		get: func(c *C) string { return strconv.FormatBool(*p(c)) }}
}

// Int is a decimal int setting.
func Int[C any](flagName, env, usage string, p func(*C) *int) Setting[C] {
	return Setting[C]{Flag: flagName, Env: env, Usage: usage,
		set: func(c *C, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("want an integer, got %q", v)
			}
			*p(c) = n
			return nil
		},
		get: func(c *C) string { return strconv.Itoa(*p(c)) }}
}

// Int32 is a decimal 32-bit integer setting.
func Int32[C any](flagName, env, usage string, p func(*C) *int32) Setting[C] {
	return Setting[C]{Flag: flagName, Env: env, Usage: usage,
		set: func(c *C, v string) error {
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				return fmt.Errorf("want a 32-bit integer, got %q", v)
			}
			*p(c) = int32(n)
			return nil
		},
		get: func(c *C) string { return strconv.FormatInt(int64(*p(c)), 10) }}
}

// Int64 is a decimal 64-bit integer setting.
func Int64[C any](flagName, env, usage string, p func(*C) *int64) Setting[C] {
	return Setting[C]{Flag: flagName, Env: env, Usage: usage,
		set: func(c *C, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("want an integer, got %q", v)
			}
			*p(c) = n
			return nil
		},
		get: func(c *C) string { return strconv.FormatInt(*p(c), 10) }}
}

// Uint64 is a decimal non-negative 64-bit integer setting.
func Uint64[C any](flagName, env, usage string, p func(*C) *uint64) Setting[C] {
	return Setting[C]{Flag: flagName, Env: env, Usage: usage,
		set: func(c *C, v string) error {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return fmt.Errorf("want a non-negative integer, got %q", v)
			}
			*p(c) = n
			return nil
		},
		get: func(c *C) string { return strconv.FormatUint(*p(c), 10) }}
}

// Float64 is a floating-point number setting.
func Float64[C any](flagName, env, usage string, p func(*C) *float64) Setting[C] {
	return Setting[C]{Flag: flagName, Env: env, Usage: usage,
		set: func(c *C, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("want a number, got %q", v)
			}
			*p(c) = f
			return nil
		},
		get: func(c *C) string { return strconv.FormatFloat(*p(c), 'g', -1, 64) }}
}

// Duration is a Go duration setting ("30s", "5m") of any duration-kinded type D, shown
// through D's String method.
func Duration[C any, D interface {
	~int64
	String() string
}](flagName, env, usage string, p func(*C) *D) Setting[C] {
	return Setting[C]{Flag: flagName, Env: env, Usage: usage,
		set: func(c *C, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("want a duration like 30s or 5m, got %q", v)
			}
			*p(c) = D(d)
			return nil
		},
		get: func(c *C) string { return (*p(c)).String() }}
}

// Table is one binary's list of settings and how its command line reads.
type Table[C any] struct {
	Program          string // flag set name, shown in "Usage: <Program> [flags]"
	ConfigEnv        string // environment variable naming the JSON file (flag --config)
	PrintConfigUsage string // usage of --print-config
	// EmptyDefault is written in the Markdown default column for a setting whose default is
	// empty (a non-empty default is written in backticks).
	EmptyDefault string
	// Err is wrapped by every error Load returns (the binary's sentinel); nil means ErrInvalid.
	Err      error
	Settings []Setting[C]
}

func (t *Table[C]) errSentinel() error {
	if t.Err != nil {
		return t.Err
	}
	return ErrInvalid
}

// rawFlag records a flag's text; it is applied to the config after the file and environment.
type rawFlag struct {
	val      string
	bareBool bool
}

func (f *rawFlag) String() string     { return f.val }
func (f *rawFlag) Set(v string) error { f.val = v; return nil }
func (f *rawFlag) IsBoolFlag() bool   { return f.bareBool }

// Load builds a config from, in increasing precedence: def, the JSON file named by --config or
// the ConfigEnv variable, environment variables, flags. getenv is injected (main passes
// os.Getenv); usage text goes to out. A --help request returns flag.ErrHelp unwrapped; every
// other error wraps t.Err. printConfig reports --print-config. The caller validates the result.
func (t *Table[C]) Load(args []string, getenv func(string) string, out io.Writer, def C) (cfg C, printConfig bool, err error) {
	sentinel := t.errSentinel()
	fs := flag.NewFlagSet(t.Program, flag.ContinueOnError)
	fs.SetOutput(out)
	raw := make(map[string]*rawFlag, len(t.Settings))
	for _, s := range t.Settings {
		v := &rawFlag{val: s.get(&def), bareBool: s.bareBool}
		raw[s.Flag] = v
		fs.Var(v, s.Flag, s.Usage+" (env "+s.Env+")")
	}
	configPath := fs.String("config", "", "JSON config file (env "+t.ConfigEnv+")")
	printFlag := fs.Bool("print-config", false, t.PrintConfigUsage)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: %s [flags]\n\nPrecedence: defaults < config file < environment < flags.\n\n", t.Program)
		fs.PrintDefaults()
	}
	var zero C
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return zero, false, err
		}
		return zero, false, fmt.Errorf("%w: %v", sentinel, err)
	}
	if fs.NArg() > 0 {
		return zero, false, fmt.Errorf("%w: unexpected arguments %q", sentinel, fs.Args())
	}

	cfg = def
	path := *configPath
	if path == "" {
		path = getenv(t.ConfigEnv)
	}
	if path != "" {
		if err := loadFile(path, &cfg, sentinel); err != nil {
			return zero, false, err
		}
	}
	var errs []error
	for _, s := range t.Settings {
		if v := getenv(s.Env); v != "" {
			if err := s.set(&cfg, v); err != nil {
				errs = append(errs, fmt.Errorf("%w: env %s: %v", sentinel, s.Env, err))
			}
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, s := range t.Settings {
		if set[s.Flag] {
			if err := s.set(&cfg, raw[s.Flag].val); err != nil {
				errs = append(errs, fmt.Errorf("%w: flag --%s: %v", sentinel, s.Flag, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return zero, false, err
	}
	return cfg, *printFlag, nil
}

// loadFile overlays a JSON file on cfg. Unknown keys are errors (a typo must not silently
// leave a default in place).
func loadFile[C any](path string, cfg *C, sentinel error) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: config file: %w", sentinel, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(cfg); err != nil {
		return fmt.Errorf("%w: config file %s: %v", sentinel, path, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: config file %s: trailing data after the JSON object", sentinel, path)
	}
	return nil
}

// Markdown renders every flag, environment variable and default (taken from def) as a
// Markdown table, with --config first and --print-config last.
func (t *Table[C]) Markdown(def C) string {
	var b strings.Builder
	b.WriteString("| flag | environment | default | meaning |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| `--config` | `%s` | | JSON config file |\n", t.ConfigEnv)
	for _, s := range t.Settings {
		v := s.get(&def)
		if v == "" {
			v = t.EmptyDefault
		} else {
			v = "`" + v + "`"
		}
		fmt.Fprintf(&b, "| `--%s` | `%s` | %s | %s |\n", s.Flag, s.Env, v, s.Usage)
	}
	fmt.Fprintf(&b, "| `--print-config` | | | %s |\n", t.PrintConfigUsage)
	return b.String()
}
