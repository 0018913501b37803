package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// adminClient talks to the cloud's admin API (/admin/v1) with a session token. It is the
// command line's own view of the API: request and response shapes are declared here,
// not shared with the cloud's code.
type adminClient struct {
	base  string // e.g. http://127.0.0.1:8090
	token string
	http  *http.Client
}

// apiProblem is an RFC 9457 problem answered by the API.
type apiProblem struct {
	Method, Path string
	Status       int
	Code         string `json:"code"`
	Detail       string `json:"detail"`
	Errors       []struct {
		Location string `json:"location"`
		Message  string `json:"message"`
	} `json:"errors"`
}

func (p *apiProblem) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d", p.Method, p.Path, p.Status)
	if p.Code != "" {
		b.WriteString(" " + p.Code)
	}
	if p.Detail != "" {
		b.WriteString(": " + p.Detail)
	}
	for i, e := range p.Errors {
		if i == 10 {
			fmt.Fprintf(&b, "; … %d more", len(p.Errors)-i)
			break
		}
		fmt.Fprintf(&b, "; %s: %s", e.Location, e.Message)
	}
	return b.String()
}

func newAdminClient(base string, timeout time.Duration) (*adminClient, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("cloud URL %q: want http(s)://host:port", base)
	}
	return &adminClient{base: strings.TrimRight(base, "/"), http: &http.Client{Timeout: timeout}}, nil
}

// do sends body (JSON-encoded unless it is []byte) and decodes a 2xx answer into out.
func (c *adminClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+"/admin/v1"+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "fleetctl")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close() //nolint:errcheck // read fully below; a close error changes nothing
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		p := &apiProblem{Method: method, Path: path, Status: resp.StatusCode}
		if json.Unmarshal(data, p) != nil || (p.Code == "" && p.Detail == "") {
			p.Detail = strings.TrimSpace(string(data[:min(len(data), 300)]))
		}
		return p
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// isStatus reports whether err is a problem answer with status.
func isStatus(err error, status int) bool {
	var p *apiProblem
	return errors.As(err, &p) && p.Status == status
}

// login opens a session with a password (admins with TOTP need a code: not supported here).
func (c *adminClient) login(ctx context.Context, email, password string) error {
	var out struct {
		Status  string `json:"status"`
		Session *struct {
			Token string `json:"token"`
		} `json:"session"`
	}
	if err := c.do(ctx, http.MethodPost, "/auth/login", map[string]string{"email": email, "password": password}, &out); err != nil {
		return err
	}
	if out.Status != "ok" || out.Session == nil || out.Session.Token == "" {
		return fmt.Errorf("login %s: status %q (admins with two-factor authentication cannot use fleetctl city import)", email, out.Status)
	}
	c.token = out.Session.Token
	return nil
}

// logout ends the session (best effort: it expires anyway).
func (c *adminClient) logout(ctx context.Context) error {
	if c.token == "" {
		return nil
	}
	return c.do(ctx, http.MethodPost, "/auth/logout", nil, nil)
}
