package httpapi

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
)

// web holds the live rack page: plain HTML, CSS and JavaScript served by
// the binary, no CDN, no build step.
//
//go:embed web
var web embed.FS

// webFS is web/ itself; etags are its files' content hashes (embedded files
// have no modification time to revalidate by).
var (
	webFS = mustSub(web, "web")
	etags = hashFiles(webFS)
)

// contentSecurityPolicy allows the page only its own scripts, styles, images
// and API (no inline code, no other origin), and no framing: the page has
// power buttons, so another site must not overlay it.
const contentSecurityPolicy = "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func pageHeaders(w http.ResponseWriter, name string) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", etags[name])
}

func (s *server) page(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w, "index.html")
	http.ServeFileFS(w, r, webFS, "index.html")
}

// static serves the page's other files, /static/NAME for web/NAME.
func (s *server) static(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if _, ok := etags[name]; !ok || name == "index.html" {
		http.NotFound(w, r)
		return
	}
	pageHeaders(w, name)
	http.ServeFileFS(w, r, webFS, name)
}

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

// hashFiles returns a strong ETag per regular file at the top of f.
func hashFiles(f fs.FS) map[string]string {
	entries, err := fs.ReadDir(f, ".")
	if err != nil {
		panic(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := fs.ReadFile(f, e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		out[e.Name()] = `"` + hex.EncodeToString(sum[:8]) + `"`
	}
	return out
}
