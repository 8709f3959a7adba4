package boot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/powerjockey/powerjockey/pkg/node"
)

// NewImageClient is the HTTP client images are fetched with: bounded
// connection, TLS handshake and answer times (an image server that does
// not answer fails a check or a read within seconds, never hangs a boot),
// no bound on a body's transfer, the environment's proxy settings.
func NewImageClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 10 * time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   8,
		},
		// A redirect is followed (to at most 10), the credentials are not
		// sent to another host: net/http's own rules.
	}
}

// Checker checks images before they are inserted: node.MediaChecker.
type Checker struct {
	Client *http.Client
	// Timeout bounds one check (default 15s).
	Timeout time.Duration
}

var _ node.MediaChecker = (*Checker)(nil)

// CheckMedia reads the first byte of the image with a Range request: the
// server must answer, have the image, accept the credentials and answer
// 206 with the image's size, as iPXE's sanboot needs.
func (c *Checker) CheckMedia(ctx context.Context, m node.Media) (int64, error) {
	fail := func(p node.MediaProblem, err error) (int64, error) {
		return 0, &node.MediaError{Problem: p, Image: m.Image, Err: err}
	}
	if err := CheckImageURL(m.Image); err != nil {
		return fail(node.MediaBadURL, err)
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := imageRequest(ctx, http.MethodGet, m)
	if err != nil {
		return fail(node.MediaBadURL, err)
	}
	req.Header.Set("Range", "bytes=0-0")
	client := c.Client
	if client == nil {
		client = NewImageClient()
	}
	resp, err := client.Do(req)
	if err != nil {
		return fail(node.MediaUnreachable, err)
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusPartialContent:
	case http.StatusOK:
		return fail(node.MediaNoRanges, errors.New("the server answered a Range request with the whole image (200): iPXE's sanboot needs HTTP Range requests"))
	case http.StatusUnauthorized, http.StatusForbidden:
		return fail(node.MediaUnauthorized, errors.New(resp.Status))
	case http.StatusNotFound, http.StatusGone:
		return fail(node.MediaNotFound, errors.New(resp.Status))
	case http.StatusRequestedRangeNotSatisfiable:
		return fail(node.MediaFailed, errors.New("the image is empty (416)"))
	default:
		return fail(node.MediaFailed, fmt.Errorf("unexpected answer %s", resp.Status))
	}
	size, ok := rangeTotal(resp.Header.Get("Content-Range"))
	if !ok {
		return fail(node.MediaNoRanges, fmt.Errorf("the server's Content-Range %q gives no image size, which iPXE's sanboot needs", truncate(resp.Header.Get("Content-Range"))))
	}
	return size, nil
}

// CheckImageURL accepts an absolute http or https URL with a host.
func CheckImageURL(s string) error {
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return errors.New("the URL has white space or control characters")
	}
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("want an http:// or https:// URL, got scheme %q", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("the URL has no host")
	}
	return nil
}

func imageRequest(ctx context.Context, method string, m node.Media) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, m.Image, nil)
	if err != nil {
		return nil, err
	}
	if m.UserName != "" || m.Password != "" {
		req.SetBasicAuth(m.UserName, m.Password)
	}
	req.Header.Set("User-Agent", "powerjockey (virtual media)")
	return req, nil
}

var contentRangeRE = regexp.MustCompile(`^bytes [0-9]+-[0-9]+/([0-9]+)$`)

// rangeTotal is the complete length of a Content-Range "bytes a-b/total".
func rangeTotal(h string) (int64, bool) {
	m := contentRangeRE.FindStringSubmatch(strings.TrimSpace(h))
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	return n, err == nil && n > 0
}

// rangeRE is the Range header the endpoint passes on: byte ranges only
// (RFC 9110 14.1.1), bounded in length. Anything else is not forwarded.
var rangeRE = regexp.MustCompile(`^bytes=\s*([0-9]*-[0-9]*)(\s*,\s*[0-9]*-[0-9]*)*$`)

// ValidRange reports whether a Range header is a byte-ranges request the
// endpoint passes on to the image's server.
func ValidRange(h string) bool {
	return len(h) <= 256 && rangeRE.MatchString(h) && h != "bytes=-" && !strings.Contains(h, ",-,")
}

// serveMedia serves /media/NODE/ID/FILE: the node's inserted image, while
// it is the one inserted as ID.
func (s *Server) serveMedia(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, mediaPrefix), "/")
	if len(parts) != 3 {
		http.NotFound(w, r)
		return
	}
	n, ok := s.b.ByName(parts[0])
	if !ok {
		http.NotFound(w, r)
		return
	}
	m := n.Media()
	if !m.Attached() || !m.Inserted || m.ID == "" || m.ID != parts[1] {
		s.log.Info("virtual media request for an image no longer inserted", "node", n.Name(), "remote", r.RemoteAddr, "path", truncate(r.URL.Path))
		http.Error(w, "no such image: it was ejected or replaced", http.StatusNotFound)
		return
	}
	rg := r.Header.Get("Range")
	if rg != "" && !ValidRange(rg) {
		http.Error(w, "unsupported Range", http.StatusRequestedRangeNotSatisfiable)
		return
	}
	if s.opt.Redirect && strings.HasPrefix(m.Image, "http://") && m.UserName == "" && m.Password == "" {
		http.Redirect(w, r, m.Image, http.StatusFound)
		return
	}
	if r.Method == http.MethodHead {
		headMedia(w, m)
		return
	}
	s.streamMedia(w, r, n, m, rg)
}

// headMedia answers a HEAD (iPXE's first request: the image's size) from
// the size learned at insertion, with Range support announced. The image
// server is not asked: a HEAD of a presigned URL is often refused.
func headMedia(w http.ResponseWriter, m node.Media) {
	h := w.Header()
	h.Set("Accept-Ranges", "bytes")
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(m.Size, 10))
	w.WriteHeader(http.StatusOK)
}

// streamMedia fetches the request's range from the image's server and
// passes it on as it arrives: nothing is held but a copy buffer.
func (s *Server) streamMedia(w http.ResponseWriter, r *http.Request, n Node, m node.Media, rg string) {
	req, err := imageRequest(r.Context(), http.MethodGet, m)
	if err != nil {
		s.mediaFailed(w, n, m, err)
		return
	}
	if rg != "" {
		req.Header.Set("Range", rg)
		if ir := r.Header.Get("If-Range"); ir != "" && len(ir) < 256 {
			req.Header.Set("If-Range", ir)
		}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if r.Context().Err() != nil {
			return // the machine went away
		}
		s.mediaFailed(w, n, m, err)
		return
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusPartialContent && rg != "":
	case resp.StatusCode == http.StatusOK && rg == "":
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && rg != "":
	case resp.StatusCode == http.StatusOK:
		s.mediaFailed(w, n, m, errors.New("the image server no longer answers Range requests (200 to a Range request)"))
		return
	default:
		s.mediaFailed(w, n, m, fmt.Errorf("the image server answered %s", resp.Status))
		return
	}
	h := w.Header()
	for _, k := range []string{"Content-Length", "Content-Range", "Last-Modified", "ETag"} {
		if v := resp.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	h.Set("Accept-Ranges", "bytes")
	h.Set("Content-Type", "application/octet-stream")
	w.WriteHeader(resp.StatusCode)
	n.MediaServed(m.ID)
	buf := make([]byte, 64<<10)
	if _, err := io.CopyBuffer(w, resp.Body, buf); err != nil && r.Context().Err() == nil {
		s.log.Warn("virtual media transfer interrupted", "node", n.Name(), "image", m.Image, "range", rg, "err", err)
	}
}

// mediaFailed answers 502 at once (the firmware's sanboot fails and its
// script goes on) and tells the node, which records it once.
func (s *Server) mediaFailed(w http.ResponseWriter, n Node, m node.Media, err error) {
	n.MediaServeFailed(m.ID, err)
	http.Error(w, "the image could not be fetched: "+err.Error(), http.StatusBadGateway)
}
