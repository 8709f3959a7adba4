//go:build linux

package httpapi

// A minimal Chrome DevTools Protocol client for the browser tests: Debian's
// chromium, headless, driven over its websocket with golang.org/x/net (no
// other module, no chromedriver, no node).

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// chromium returns the browser's path. A missing browser skips the test,
// unless CI is set: there it is a failure (.ci/run installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found (CI is set: install Debian's chromium)")
	}
	t.Skip("chromium not found; install Debian's chromium to test the live page")
	return ""
}

// browser is one headless chromium with one page, driven over CDP.
type browser struct {
	t   *testing.T
	ws  *websocket.Conn
	wmu sync.Mutex // serializes writes

	next    atomic.Int64
	mu      sync.Mutex
	pending map[int64]chan cdpMsg
	gone    chan struct{} // closed when the connection ends

	// acceptDialogs answers confirm() dialogs; dialogs receives their texts.
	acceptDialogs atomic.Bool
	dialogs       chan string

	pmu      sync.Mutex
	problems []string // uncaught exceptions, console and security errors
}

type cdpMsg struct {
	ID     int64           `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// limitedBuffer keeps the last bytes written to it (the browser's stderr).
type limitedBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	if len(l.b) > 8192 {
		l.b = l.b[len(l.b)-8192:]
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}

// startBrowser launches chromium on about:blank and connects to its page.
// The browser and every process it started are killed when the test ends.
func startBrowser(ctx context.Context, t *testing.T, bin string, extraArgs ...string) *browser {
	t.Helper()
	dir := t.TempDir()
	args := []string{"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
		"--disable-sync", "--disable-extensions", "--disable-dev-shm-usage", "--hide-scrollbars",
		"--mute-audio", "--user-data-dir=" + dir, "--remote-debugging-port=0",
		"--remote-allow-origins=http://127.0.0.1", "--window-size=1280,800"}
	args = append(append(args, extraArgs...), "about:blank")
	cmd := exec.Command(bin, args...)
	stderr := &limitedBuffer{}
	cmd.Stdout, cmd.Stderr = stderr, stderr
	// Its own process group, so that the renderers and helpers die with it;
	// and killed if this test binary dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("chromium (pid %d) did not exit after SIGKILL", cmd.Process.Pid)
		}
		if t.Failed() {
			t.Logf("chromium's output (tail):\n%s", stderr)
		}
	})

	// chromium writes the port it chose to DevToolsActivePort.
	var port string
	for port == "" {
		b, err := os.ReadFile(filepath.Join(dir, "DevToolsActivePort"))
		if err == nil && bytes.Count(b, []byte("\n")) >= 1 {
			port = strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
			break
		}
		select {
		case <-exited:
			t.Fatalf("chromium exited early:\n%s", stderr)
		case <-ctx.Done():
			t.Fatalf("chromium did not open its DevTools port:\n%s", stderr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	var targets []struct{ Type, URL, WebSocketDebuggerURL string }
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://127.0.0.1:"+port+"/json/list", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&targets)
			resp.Body.Close()
		}
		if err != nil {
			t.Fatalf("list DevTools targets: %v", err)
		}
		if len(targets) > 0 && targets[0].Type == "page" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cfg, err := websocket.NewConfig(targets[0].WebSocketDebuggerURL, "http://127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ws, err := cfg.DialContext(ctx)
	if err != nil {
		t.Fatalf("connect to the page's DevTools socket: %v", err)
	}
	ws.MaxPayloadBytes = 64 << 20 // screenshots
	b := &browser{t: t, ws: ws, pending: map[int64]chan cdpMsg{}, gone: make(chan struct{}),
		dialogs: make(chan string, 16)}
	b.acceptDialogs.Store(true)
	t.Cleanup(func() { ws.Close() })
	go b.read()
	for _, m := range []string{"Page.enable", "Runtime.enable", "Log.enable"} {
		b.must(ctx, m, nil, nil)
	}
	return b
}

func (b *browser) read() {
	defer close(b.gone)
	for {
		var m cdpMsg
		if err := websocket.JSON.Receive(b.ws, &m); err != nil {
			return
		}
		if m.ID != 0 {
			b.mu.Lock()
			ch := b.pending[m.ID]
			delete(b.pending, m.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		b.event(m)
	}
}

func (b *browser) event(m cdpMsg) {
	switch m.Method {
	case "Page.javascriptDialogOpening":
		var p struct{ Message string }
		json.Unmarshal(m.Params, &p)
		select {
		case b.dialogs <- p.Message:
		default:
		}
		accept := b.acceptDialogs.Load()
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			b.call(ctx, "Page.handleJavaScriptDialog", map[string]any{"accept": accept}, nil)
		}()
	case "Runtime.exceptionThrown":
		var p struct {
			ExceptionDetails struct {
				Text      string
				Exception struct{ Description string }
			}
		}
		json.Unmarshal(m.Params, &p)
		b.problem("exception: %s %s", p.ExceptionDetails.Text, p.ExceptionDetails.Exception.Description)
	case "Runtime.consoleAPICalled":
		var p struct {
			Type string
			Args []struct{ Value any }
		}
		json.Unmarshal(m.Params, &p)
		if p.Type == "error" || p.Type == "warning" || p.Type == "assert" {
			b.problem("console.%s: %v", p.Type, p.Args)
		}
	case "Log.entryAdded":
		var p struct {
			Entry struct{ Source, Level, Text, URL string }
		}
		json.Unmarshal(m.Params, &p)
		// Failed fetches are expected while the test takes the server down;
		// the page reports those itself.
		if p.Entry.Level == "error" && p.Entry.Source != "network" {
			b.problem("%s %s: %s (%s)", p.Entry.Source, p.Entry.Level, p.Entry.Text, p.Entry.URL)
		}
	}
}

func (b *browser) problem(format string, args ...any) {
	b.pmu.Lock()
	defer b.pmu.Unlock()
	b.problems = append(b.problems, fmt.Sprintf(format, args...))
}

// takeProblems returns and forgets what the page reported so far.
func (b *browser) takeProblems() []string {
	b.pmu.Lock()
	defer b.pmu.Unlock()
	p := b.problems
	b.problems = nil
	return p
}

// call sends a CDP command and decodes its result into out (if not nil).
func (b *browser) call(ctx context.Context, method string, params, out any) error {
	id := b.next.Add(1)
	ch := make(chan cdpMsg, 1)
	b.mu.Lock()
	b.pending[id] = ch
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.pending, id)
		b.mu.Unlock()
	}()
	if params == nil {
		params = struct{}{}
	}
	b.wmu.Lock()
	err := websocket.JSON.Send(b.ws, map[string]any{"id": id, "method": method, "params": params})
	b.wmu.Unlock()
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("%s: %s (%d)", method, m.Error.Message, m.Error.Code)
		}
		if out != nil {
			return json.Unmarshal(m.Result, out)
		}
		return nil
	case <-b.gone:
		return fmt.Errorf("%s: the browser went away", method)
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

func (b *browser) must(ctx context.Context, method string, params, out any) {
	b.t.Helper()
	if err := b.call(ctx, method, params, out); err != nil {
		b.t.Fatal(err)
	}
}

// eval evaluates a JavaScript expression in the page (awaiting a promise)
// and decodes its value into out.
func (b *browser) eval(ctx context.Context, expr string, out any) error {
	var r struct {
		Result struct {
			Type  string
			Value json.RawMessage
		}
		ExceptionDetails *struct {
			Text      string
			Exception struct{ Description string }
		}
	}
	err := b.call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true,
		"awaitPromise": true}, &r)
	if err != nil {
		return err
	}
	if e := r.ExceptionDetails; e != nil {
		return fmt.Errorf("evaluate %s: %s %s", expr, e.Text, e.Exception.Description)
	}
	if out == nil || len(r.Result.Value) == 0 {
		return nil
	}
	return json.Unmarshal(r.Result.Value, out)
}

func (b *browser) mustEval(ctx context.Context, expr string, out any) {
	b.t.Helper()
	if err := b.eval(ctx, expr, out); err != nil {
		b.t.Fatal(err)
	}
}

// waitFor polls a JavaScript condition until it is true or timeout passes.
func (b *browser) waitFor(ctx context.Context, what, cond string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		var ok bool
		if last = b.eval(ctx, "!!("+cond+")", &ok); last == nil && ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.screenshot(ctx, "failed-"+strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(what))+".png")
	b.t.Fatalf("timed out waiting for %s (%s); last error: %v", what, cond, last)
}

// click clicks the centre of the element with a real (synthesized) mouse
// event, after scrolling it into view.
func (b *browser) click(ctx context.Context, selector string) {
	b.t.Helper()
	var pt struct{ X, Y float64 }
	sel, _ := json.Marshal(selector)
	b.mustEval(ctx, fmt.Sprintf(`(() => { const e = document.querySelector(%s);
		if (!e) throw new Error('no element ' + %s);
		e.scrollIntoView({block: 'center'});
		const r = e.getBoundingClientRect();
		return {x: r.x + r.width / 2, y: r.y + r.height / 2}; })()`, sel, sel), &pt)
	for _, typ := range []string{"mouseMoved", "mousePressed", "mouseReleased"} {
		b.must(ctx, "Input.dispatchMouseEvent", map[string]any{"type": typ, "x": pt.X, "y": pt.Y,
			"button": "left", "clickCount": 1}, nil)
	}
}

// screenshot saves the viewport as a PNG in the test's artifact directory
// (kept with go test -artifacts) and returns its path.
func (b *browser) screenshot(ctx context.Context, name string) string {
	var r struct{ Data string }
	if err := b.call(ctx, "Page.captureScreenshot", map[string]any{"format": "png"}, &r); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err == nil {
		path := filepath.Join(b.t.ArtifactDir(), name)
		if err = os.WriteFile(path, png, 0o644); err == nil {
			b.t.Logf("screenshot: %s", path)
			return path
		}
	}
	b.t.Logf("screenshot %s: %v", name, errors.Join(err))
	return ""
}
