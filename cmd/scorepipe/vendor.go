package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/scorepipe/scorepipe/pipeline"
	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
	"github.com/scorepipe/scorepipe/store"
)

// Environment variables.
const (
	envAccessID = "SCOREPIPE_ACCESS_ID"
	envKey      = "SCOREPIPE_ACCESS_KEY"
	envEndpoint = "SCOREPIPE_ENDPOINT"
	envSecret   = "SCOREPIPE_IDENTITY_SECRET"
)

// vendorConn is the client a run talks to, and what to close after.
type vendorConn struct {
	caller   *tianyuan.Client
	cipher   *tianyuan.Cipher
	describe string
	close    func()
}

// connectVendor builds the vendor client from the environment. With no
// endpoint and no credentials it starts the built-in fake vendor on
// loopback; with an endpoint but no credentials it uses the fake's demo
// credentials (for a separately started mock-vendor).
func connectVendor(cfg *pipeline.Config, log *slog.Logger) (*vendorConn, error) {
	id, key, endpoint := os.Getenv(envAccessID), os.Getenv(envKey), os.Getenv(envEndpoint)
	conn := &vendorConn{close: func() {}}
	keyFormat := tianyuan.KeyFormat(cfg.Vendor.KeyFormat)
	switch {
	case (id == "") != (key == ""):
		return nil, &pipeline.ConfigError{Field: envAccessID + "/" + envKey, Msg: "set both or neither"}
	case id == "" && endpoint == "":
		srv, _ := tianyuantest.NewServer(tianyuantest.Options{})
		conn.close = srv.Close
		endpoint, id, key, keyFormat = srv.URL, tianyuantest.DemoAccessID, tianyuantest.DemoAccessKey, tianyuan.KeyHex
		conn.describe = "built-in fake vendor at " + srv.URL
		log.Warn("no credentials and no endpoint: using the built-in fake vendor on loopback; the features are synthetic",
			"endpoint", srv.URL, "hint", "set "+envAccessID+" and "+envKey+" for the real vendor")
	case id == "":
		id, key, keyFormat = tianyuantest.DemoAccessID, tianyuantest.DemoAccessKey, tianyuan.KeyHex
		conn.describe = endpoint + " with the demo credentials"
		log.Warn("no credentials: using the demo credentials of mock-vendor", "endpoint", endpoint)
	default:
		if endpoint == "" {
			endpoint = cfg.Vendor.BaseURL
		}
		conn.describe = endpoint
	}
	k, err := tianyuan.ParseKey(key, keyFormat)
	if err != nil {
		conn.close()
		return nil, &pipeline.ConfigError{Field: envKey, Msg: err.Error()}
	}
	client, err := tianyuan.NewClient(tianyuan.ClientConfig{BaseURL: strings.TrimRight(endpoint, "/"), AccessID: id, Key: k,
		HTTP: &http.Client{Transport: transport(cfg)}})
	if err != nil {
		conn.close()
		return nil, &pipeline.ConfigError{Field: "vendor", Msg: err.Error()}
	}
	conn.caller, conn.cipher = client, client.Cipher()
	return conn, nil
}

// transport is tuned for many concurrent calls to one host.
func transport(cfg *pipeline.Config) *http.Transport {
	conns := 0
	for _, p := range cfg.Products {
		conns += p.Concurrency
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = max(100, conns)
	t.MaxIdleConnsPerHost = max(16, conns)
	t.ResponseHeaderTimeout = cfg.Vendor.Timeout
	t.IdleConnTimeout = 90 * time.Second
	return t
}

// identitySecret returns the secret of the identity keys: from the
// environment when set, else from the secret file, created on first use
// when create is set (otherwise a missing file gives a random secret: no
// stored reply can match it). A missing file is an error when the reply
// store already holds replies, which only their secret can find.
func identitySecret(cfg *pipeline.Config, create bool) ([]byte, error) {
	if s := os.Getenv(envSecret); s != "" {
		if len(s) < 16 {
			return nil, &pipeline.ConfigError{Field: envSecret, Msg: "at least 16 characters"}
		}
		return []byte(s), nil
	}
	path := cfg.SecretPath()
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		// A new secret for a store that holds replies would find none of
		// them: every row would be paid for again (and plan would say so).
		held, err := store.HoldsReplies(cfg.CachePath())
		if err != nil {
			return nil, err
		}
		if held {
			return nil, &pipeline.ConfigError{Field: "identity.secret_file", Msg: fmt.Sprintf(
				"%s does not exist, but the reply store %s holds replies keyed with an identity secret: "+
					"a new secret would find none of them and pay for every row again; point identity.secret_file "+
					"(or %s) at the secret the store was filled with, or use another cache.path", path, cfg.CachePath(), envSecret)}
		}
		if !create {
			secret := make([]byte, 32)
			_, _ = rand.Read(secret)
			return secret, nil
		}
	}
	secret, err := pipeline.LoadSecret(path)
	if err != nil {
		return nil, &pipeline.ConfigError{Field: "identity.secret_file", Msg: err.Error()}
	}
	return secret, nil
}
