package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// commands lists the top-level subcommands. A new subcommand lives in its
// own file as a function returning a command (see geoCommand in geo.go)
// and is added here.
func commands() []command {
	return []command{
		protocolCommand(),
		geoCommand(),
		cityCommand(),
	}
}

// streams are the standard streams a command uses; tests pass buffers.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

// leafFunc runs a leaf command with its positional arguments (flags are
// already parsed into the variables its setup bound).
type leafFunc func(ctx context.Context, s streams, args []string) error

// command is a node of the command tree: either a group with subcommands
// (subs) or a leaf (setup).
type command struct {
	name    string // word on the command line
	args    string // synopsis of the positional arguments of a leaf, e.g. "LAT1 LON1"
	summary string // one line for listings
	long    string // optional longer help text

	// setup defines the leaf's flags on fs and returns the function that
	// runs it; it is called once per invocation, so flag variables are
	// local to the closure.
	setup func(fs *flag.FlagSet) leafFunc
	subs  []command
}

// usageError reports bad command-line arguments (exit status 2).
type usageError struct {
	cmd string // the command path, e.g. "geo inverse"
	msg string
	err error // underlying error, if any
}

func (e *usageError) Error() string {
	if e.cmd == "" {
		return e.msg
	}
	return e.cmd + ": " + e.msg
}

func (e *usageError) Unwrap() error { return e.err }

// usagef returns a *usageError for the command path.
func usagef(path []string, format string, a ...any) error {
	err := fmt.Errorf(format, a...)
	return &usageError{cmd: strings.Join(path, " "), msg: err.Error(), err: errors.Unwrap(err)}
}

// run executes the command line args (without the program name).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	root := command{name: "fleetctl", summary: "operate a fleetedge deployment", subs: commands()}
	return dispatch(ctx, streams{in: stdin, out: stdout, err: stderr}, root, nil, args)
}

// report prints err (if any) to stderr and returns the exit status.
func report(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "fleetctl: %v\n", err)
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "Run '%s' for usage.\n", strings.TrimSpace("fleetctl help "+ue.cmd))
		return 2
	}
	return 1
}

func isHelpWord(s string) bool {
	return s == "help" || s == "-h" || s == "-help" || s == "--help"
}

// dispatch walks the command tree along args. path holds the names below
// the root so far.
func dispatch(ctx context.Context, s streams, c command, path, args []string) error {
	if c.subs == nil {
		return runLeaf(ctx, s, c, path, args)
	}
	if len(args) == 0 {
		return usagef(path, "missing command; one of: %s", subNames(c))
	}
	if isHelpWord(args[0]) {
		return help(s.out, c, path, args[1:])
	}
	for _, sub := range c.subs {
		if sub.name == args[0] {
			return dispatch(ctx, s, sub, append(path, sub.name), args[1:])
		}
	}
	return usagef(path, "unknown command %q; one of: %s", args[0], subNames(c))
}

func subNames(c command) string {
	names := make([]string, len(c.subs))
	for i, sub := range c.subs {
		names[i] = sub.name
	}
	return strings.Join(names, ", ")
}

// help prints the help of the command reached from c along rest.
func help(w io.Writer, c command, path, rest []string) error {
	for _, name := range rest {
		found := false
		for _, sub := range c.subs {
			if sub.name == name {
				c, path, found = sub, append(path, name), true
				break
			}
		}
		if !found {
			return usagef(path, "no help for unknown command %q", name)
		}
	}
	_, err := io.WriteString(w, helpText(c, path))
	return err
}

func helpText(c command, path []string) string {
	var b bytes.Buffer
	full := strings.Join(append([]string{"fleetctl"}, path...), " ")
	if c.subs == nil {
		fs := flag.NewFlagSet(full, flag.ContinueOnError)
		c.setup(fs)
		flagsWord := ""
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			flagsWord = " [flags]"
		}
		fmt.Fprintf(&b, "usage: %s%s %s\n\n%s\n", full, flagsWord, c.args, c.summary)
		if c.long != "" {
			fmt.Fprintf(&b, "\n%s\n", strings.TrimRight(c.long, "\n"))
		}
		if hasFlags {
			b.WriteString("\nflags:\n")
			fs.SetOutput(&b)
			fs.PrintDefaults()
		}
		return b.String()
	}
	fmt.Fprintf(&b, "usage: %s <command> [arguments]\n\n%s\n\ncommands:\n", full, c.summary)
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	for _, sub := range c.subs {
		synopsis := sub.name
		if sub.subs != nil {
			synopsis += " <command>"
		} else if sub.args != "" {
			synopsis += " " + sub.args
		}
		fmt.Fprintf(tw, "  %s\t%s\n", synopsis, sub.summary)
	}
	_ = tw.Flush() // writes to a bytes.Buffer, which cannot fail
	fmt.Fprintf(&b, "\nRun '%s help <command>' for details.\n", full)
	return b.String()
}

// runLeaf parses the leaf's flags and runs it.
func runLeaf(ctx context.Context, s streams, c command, path, args []string) error {
	full := strings.Join(append([]string{"fleetctl"}, path...), " ")
	fs := flag.NewFlagSet(full, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned, help printed below
	fn := c.setup(fs)
	if err := fs.Parse(protectNumbers(fs, args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			_, werr := io.WriteString(s.out, helpText(c, path))
			return werr
		}
		return usagef(path, "%w", err)
	}
	return fn(ctx, s, fs.Args())
}

// protectNumbers inserts "--" before the first positional argument so
// that negative numbers such as -33.87 are not taken for flags. Flags
// (and the values of non-boolean flags) before it are left in place.
func protectNumbers(fs *flag.FlagSet, args []string) []string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return args
		}
		if _, err := strconv.ParseFloat(a, 64); err == nil || !strings.HasPrefix(a, "-") || a == "-" {
			out := make([]string, 0, len(args)+1)
			out = append(out, args[:i]...)
			out = append(out, "--")
			return append(out, args[i:]...)
		}
		// a is a flag; skip its value if it takes one and has no "=".
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil {
			if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !bf.IsBoolFlag() {
				i++
			}
		}
	}
	return args
}
