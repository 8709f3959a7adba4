// Command bareipmi is the comparison baseline for powerjockey's performance
// figures: go-ipmi's reference BMC, one BMC and server per endpoint in one
// process, with go-ipmi's mock HAL (no node layer, no persistence, no
// backends). It prints "ready" when every endpoint is bound.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/hal/mock"
	"github.com/bougou/go-ipmi/pkg/server"
	"github.com/bougou/go-ipmi/pkg/transport/udp"
	"github.com/bougou/go-ipmi/pkg/types"
)

func main() {
	base := flag.Int("base-port", 40000, "first UDP port")
	n := flag.Int("n", 200, "endpoints")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	for i := 0; i < *n; i++ {
		var guid [16]byte
		guid[0] = byte(i)
		b := bmc.New(bmc.DeviceInfo{DeviceID: 0x20, IPMIVersion: 0x02}, guid, mock.New(),
			bmc.WithCipherSuites([]types.CipherSuiteID{3, 17}))
		u, err := b.Users.Add(2, "admin")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		u.SetPassword([]byte("password"))
		u.Enabled = true
		u.ChannelAccess[1] = bmc.UserChannelAccess{MaxPrivilege: bmc.PrivilegeLevelAdministrator, Enabled: true}
		conn, err := udp.Listen(fmt.Sprintf("127.0.0.1:%d", *base+i))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		srv := server.NewServer(b, conn)
		go srv.Serve(ctx)
		go func() { <-ctx.Done(); srv.Close() }()
	}
	fmt.Println("ready")
	<-ctx.Done()
}
