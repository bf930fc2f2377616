package userauth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-cleanhttp"
	"github.com/tarilabs/userauth"
)

// h2Server is a TLS server that speaks just enough HTTP/2 to answer each
// request in one of the ways h2Answer names, so that tests can see what
// the Client makes of a stream reset or a graceful shutdown, frame by frame.
type h2Server struct {
	ln        net.Listener
	cert      *x509.Certificate
	answer    func(n int32) h2Answer // for the n-th request received (from 1)
	requests  atomic.Int32           // received whole
	processed atomic.Int32           // answered 200: what the server acted on
	wg        sync.WaitGroup
	mu        sync.Mutex
	conns     []net.Conn
}

// h2Answer is what the server does with a request it has read whole.
type h2Answer int

const (
	h2Reset   h2Answer = iota // RST_STREAM PROTOCOL_ERROR: acted on or not, nobody can tell
	h2GoAway                  // GOAWAY NO_ERROR with a last stream below it, then close: not acted on
	h2Refused                 // RST_STREAM REFUSED_STREAM: not acted on
	h2OK                      // 200 with a token pair, which every endpoint takes
)

func newH2Server(t *testing.T, answer func(n int32) h2Answer) *h2Server {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		NextProtos:   []string{"h2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &h2Server{ln: ln, cert: cert, answer: answer}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() { defer s.wg.Done(); defer c.Close(); s.serve(c) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// client is a Client of s over the SDK's own kind of transport (cleanhttp's,
// which negotiates HTTP/2), trusting only s's certificate.
func (s *h2Server) client(t *testing.T, opts ...userauth.Option) *userauth.Client {
	t.Helper()
	tr := cleanhttp.DefaultPooledTransport()
	pool := x509.NewCertPool()
	pool.AddCert(s.cert)
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	t.Cleanup(tr.CloseIdleConnections)
	opts = append([]userauth.Option{userauth.WithHTTPClient(&http.Client{Transport: tr})}, opts...)
	return newClient(t, "https://"+s.ln.Addr().String(), opts...)
}

func h2Frame(typ, flags byte, stream uint32, payload []byte) []byte {
	n := len(payload)
	b := []byte{byte(n >> 16), byte(n >> 8), byte(n), typ, flags,
		byte(stream >> 24), byte(stream >> 16), byte(stream >> 8), byte(stream)}
	return append(b, payload...)
}

// h2OKHeaders is an HPACK block: :status 200 (static index 8) and
// content-type (static name 31) application/json, not indexed.
var h2OKHeaders = append([]byte{0x88, 0x0f, 0x10, byte(len("application/json"))}, "application/json"...)

const h2OKBody = `{"access_token":"at","refresh_token":"rt"}`

func (s *h2Server) serve(c net.Conn) {
	preface := make([]byte, 24)
	if _, err := io.ReadFull(c, preface); err != nil {
		return
	}
	c.Write(h2Frame(0x4, 0, 0, nil)) // SETTINGS
	hdr := make([]byte, 9)
	for {
		if _, err := io.ReadFull(c, hdr); err != nil {
			return
		}
		n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
		typ, flags := hdr[3], hdr[4]
		stream := (uint32(hdr[5])<<24 | uint32(hdr[6])<<16 | uint32(hdr[7])<<8 | uint32(hdr[8])) & 0x7fffffff
		payload := make([]byte, n)
		if _, err := io.ReadFull(c, payload); err != nil {
			return
		}
		switch {
		case typ == 0x4 && flags&0x1 == 0: // SETTINGS: acknowledge
			c.Write(h2Frame(0x4, 0x1, 0, nil))
		case typ == 0x6 && flags&0x1 == 0: // PING
			c.Write(h2Frame(0x6, 0x1, 0, payload))
		case (typ == 0x1 || typ == 0x0) && flags&0x1 != 0: // HEADERS or DATA ending the request
			switch s.answer(s.requests.Add(1)) {
			case h2Reset:
				c.Write(h2Frame(0x3, 0, stream, []byte{0, 0, 0, 0x1}))
			case h2Refused:
				c.Write(h2Frame(0x3, 0, stream, []byte{0, 0, 0, 0x7}))
			case h2GoAway:
				last := max(stream, 2) - 2 // the stream before this one: this one was not processed
				c.Write(h2Frame(0x7, 0, 0, []byte{byte(last >> 24), byte(last >> 16), byte(last >> 8), byte(last), 0, 0, 0, 0}))
				return // and close, as a server going away does
			case h2OK:
				s.processed.Add(1)
				c.Write(h2Frame(0x1, 0x4, stream, h2OKHeaders)) // HEADERS, END_HEADERS
				c.Write(h2Frame(0x0, 0x1, stream, []byte(h2OKBody)))
			}
		}
	}
}
