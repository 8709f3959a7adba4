package httpapi

import (
	"embed"
	"net/http"
)

// web holds the live rack page: plain HTML, CSS and JavaScript served by
// the binary, no CDN, no build step.
//
//go:embed web
var web embed.FS

func (s *server) page(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", "default-src 'self'")
	http.ServeFileFS(w, r, web, "web/index.html")
}

func (s *server) static(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", "default-src 'self'")
	http.ServeFileFS(w, r, web, "web/"+r.PathValue("file"))
}
