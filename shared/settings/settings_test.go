package settings

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var errTest = errors.New("invalid test configuration")

type dur time.Duration

func (d dur) String() string { return time.Duration(d).String() }

type secret string

func (s secret) String() string {
	if s == "" {
		return ""
	}
	return "***"
}

type testConfig struct {
	Name   string  `json:"name"`
	Token  secret  `json:"token"`
	On     bool    `json:"on"`
	Strict bool    `json:"strict"`
	N      int     `json:"n"`
	N32    int32   `json:"n32"`
	N64    int64   `json:"n64"`
	U      uint64  `json:"u"`
	F      float64 `json:"f"`
	Wait   dur     `json:"wait"`
}

func testTable() *Table[testConfig] {
	return &Table[testConfig]{
		Program:          "prog",
		ConfigEnv:        "T_CONFIG",
		PrintConfigUsage: "print and exit",
		EmptyDefault:     "",
		Err:              errTest,
		Settings: []Setting[testConfig]{
			String("name", "T_NAME", "a name", func(c *testConfig) *string { return &c.Name }),
			Masked("token", "T_TOKEN", "a token", func(c *testConfig) *secret { return &c.Token }),
			Bool("on", "T_ON", "a switch", func(c *testConfig) *bool { return &c.On }),
			Bool("strict", "T_STRICT", "a switch needing a value", func(c *testConfig) *bool { return &c.Strict }).RequireValue(),
			Int("n", "T_N", "an int", func(c *testConfig) *int { return &c.N }),
			Int32("n32", "T_N32", "an int32", func(c *testConfig) *int32 { return &c.N32 }),
			Int64("n64", "T_N64", "an int64", func(c *testConfig) *int64 { return &c.N64 }),
			Uint64("u", "T_U", "a uint64", func(c *testConfig) *uint64 { return &c.U }),
			Float64("f", "T_F", "a float", func(c *testConfig) *float64 { return &c.F }),
			Duration("wait", "T_WAIT", "a duration", func(c *testConfig) *dur { return &c.Wait }),
		},
	}
}

func defaults() testConfig {
	return testConfig{Name: "def", N: 1, Wait: dur(time.Second), Token: "s3cret"}
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadPrecedence(t *testing.T) {
	file := writeFile(t, `{"name":"file","n":2,"n64":7}`)
	cases := []struct {
		name      string
		args      []string
		env       map[string]string
		wantName  string
		wantN     int
		wantN64   int64
		wantPrint bool
	}{
		{"defaults", nil, nil, "def", 1, 0, false},
		{"file via flag", []string{"--config", file}, nil, "file", 2, 7, false},
		{"file via env", nil, map[string]string{"T_CONFIG": file}, "file", 2, 7, false},
		{"env over file", []string{"--config", file}, map[string]string{"T_NAME": "env", "T_N": "3"}, "env", 3, 7, false},
		{"flag over env", []string{"--config", file, "--name", "flag"}, map[string]string{"T_NAME": "env", "T_N": "3"}, "flag", 3, 7, false},
		{"flag over default", []string{"-n=9"}, nil, "def", 9, 0, false},
		{"empty env is unset", nil, map[string]string{"T_NAME": ""}, "def", 1, 0, false},
		{"print-config", []string{"--print-config"}, nil, "def", 1, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, printConfig, err := testTable().Load(tc.args, func(k string) string { return tc.env[k] }, io.Discard, defaults())
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Name != tc.wantName || cfg.N != tc.wantN || cfg.N64 != tc.wantN64 || printConfig != tc.wantPrint {
				t.Fatalf("got name=%q n=%d n64=%d print=%v, want %q %d %d %v",
					cfg.Name, cfg.N, cfg.N64, printConfig, tc.wantName, tc.wantN, tc.wantN64, tc.wantPrint)
			}
		})
	}
}

func TestLoadEveryKind(t *testing.T) {
	args := []string{"--token=abc", "--on", "--strict=true", "--n32=-5", "--u=18446744073709551615", "--f=2.5", "--wait=90s"}
	cfg, _, err := testTable().Load(args, func(string) string { return "" }, io.Discard, defaults())
	if err != nil {
		t.Fatal(err)
	}
	want := testConfig{Name: "def", Token: "abc", On: true, Strict: true, N: 1, N32: -5, U: 18446744073709551615, F: 2.5, Wait: dur(90 * time.Second)}
	if cfg != want {
		t.Fatalf("got %+v, want %+v", cfg, want)
	}
}

func TestLoadErrors(t *testing.T) {
	unknown := writeFile(t, `{"nmae":"typo"}`)
	trailing := writeFile(t, `{"name":"a"} {}`)
	badJSON := writeFile(t, `{"n":"x"}`)
	cases := []struct {
		name    string
		args    []string
		env     map[string]string
		wantSub []string
	}{
		{"unknown JSON key", []string{"--config", unknown}, nil, []string{"nmae"}},
		{"trailing JSON", []string{"--config", trailing}, nil, []string{"trailing data"}},
		{"JSON wrong type", []string{"--config", badJSON}, nil, []string{"config file"}},
		{"missing file", []string{"--config", filepath.Join(t.TempDir(), "none.json")}, nil, []string{"config file"}},
		{"unknown flag", []string{"--nope"}, nil, []string{"nope"}},
		{"positional argument", []string{"extra"}, nil, []string{"unexpected arguments"}},
		{"bad int flag", []string{"--n=x"}, nil, []string{"flag --n", "want an integer"}},
		{"int32 overflow", []string{"--n32=9999999999"}, nil, []string{"flag --n32", "32-bit"}},
		{"negative uint", []string{"--u=-1"}, nil, []string{"flag --u", "non-negative"}},
		{"bad float", []string{"--f=q"}, nil, []string{"flag --f", "number"}},
		{"bad bool env", nil, map[string]string{"T_ON": "maybe"}, []string{"env T_ON", "true or false"}},
		{"bad duration env", nil, map[string]string{"T_WAIT": "soon"}, []string{"env T_WAIT", "duration"}},
		{"bad int64 env", nil, map[string]string{"T_N64": "1.5"}, []string{"env T_N64"}},
		{"env and flag both reported", []string{"--n=x"}, map[string]string{"T_WAIT": "soon"}, []string{"env T_WAIT", "flag --n"}},
		{"bool needing a value given bare", []string{"--strict"}, nil, []string{"strict"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := testTable().Load(tc.args, func(k string) string { return tc.env[k] }, io.Discard, defaults())
			if !errors.Is(err, errTest) {
				t.Fatalf("err = %v, want errTest", err)
			}
			for _, s := range tc.wantSub {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("err = %q, want it to mention %q", err, s)
				}
			}
		})
	}
}

func TestLoadDefaultSentinel(t *testing.T) {
	tab := testTable()
	tab.Err = nil
	if _, _, err := tab.Load([]string{"--n=x"}, func(string) string { return "" }, io.Discard, defaults()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
}

func TestHelp(t *testing.T) {
	var out strings.Builder
	_, _, err := testTable().Load([]string{"--help"}, func(string) string { return "" }, &out, defaults())
	if !errors.Is(err, flag.ErrHelp) || errors.Is(err, errTest) {
		t.Fatalf("err = %v, want bare flag.ErrHelp", err)
	}
	help := out.String()
	if !strings.HasPrefix(help, "Usage: prog [flags]\n") {
		t.Errorf("help starts %q", help[:min(len(help), 40)])
	}
	for _, s := range testTable().Settings {
		if !strings.Contains(help, "-"+s.Flag) || !strings.Contains(help, "(env "+s.Env+")") {
			t.Errorf("help misses %s / %s", s.Flag, s.Env)
		}
	}
	for _, want := range []string{"-config string", "(env T_CONFIG)", "-print-config", "  -on\n", "-strict value", "(default ***)"} {
		if !strings.Contains(help, want) {
			t.Errorf("help misses %q:\n%s", want, help)
		}
	}
	if strings.Contains(help, "s3cret") {
		t.Error("help shows the secret default")
	}
}

func TestMarkdown(t *testing.T) {
	tab := testTable()
	def := defaults()
	def.Name = ""
	md := tab.Markdown(def)
	for _, want := range []string{
		"| flag | environment | default | meaning |\n|---|---|---|---|\n| `--config` | `T_CONFIG` | | JSON config file |\n",
		"| `--name` | `T_NAME` |  | a name |\n",
		"| `--token` | `T_TOKEN` | `***` | a token |\n",
		"| `--wait` | `T_WAIT` | `1s` | a duration |\n",
		"| `--print-config` | | | print and exit |\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("table misses %q:\n%s", want, md)
		}
	}
	tab.EmptyDefault = "``"
	if md := tab.Markdown(def); !strings.Contains(md, "| `--name` | `T_NAME` | `` | a name |\n") {
		t.Errorf("EmptyDefault not used:\n%s", md)
	}
	if strings.Contains(md, "s3cret") {
		t.Error("table shows the secret default")
	}
}
