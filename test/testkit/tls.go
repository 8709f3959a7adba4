package testkit

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
)

// TrustingTransport is an HTTP transport that trusts only the CA
// certificates in pem (a daemon's generated ca.crt, say): a client that
// verifies the service as a careful operator's would.
func TrustingTransport(pem []byte) *http.Transport {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
}
