package snmpagent_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"sync"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/powerjockey/powerjockey/pkg/internal/snmpagent"
)

// A one-outlet PDU: reading the status OID reports the outlet's state,
// writing 1 or 2 switches it on or off.
func Example() {
	const statusOID = "1.3.6.1.4.1.99999.1.1"
	var (
		mu sync.Mutex
		on bool
	)
	tree := snmpagent.NewTree()
	err := tree.SetValue("1.3.6.1.2.1.1.1.0", snmpagent.Variable{Type: gosnmp.OctetString, Value: "example PDU"})
	if err != nil {
		log.Fatal(err)
	}
	err = tree.Register(statusOID, snmpagent.Object{
		Type: gosnmp.Integer,
		Get: func() any {
			mu.Lock()
			defer mu.Unlock()
			if on {
				return 1
			}
			return 2
		},
		Check: func(v any) gosnmp.SNMPError {
			if v != 1 && v != 2 {
				return gosnmp.WrongValue
			}
			return gosnmp.NoError
		},
		Set: func(v any) gosnmp.SNMPError {
			mu.Lock()
			defer mu.Unlock()
			on = v == 1
			return gosnmp.NoError
		},
	})
	if err != nil {
		log.Fatal(err)
	}

	agent, err := snmpagent.New(snmpagent.Config{Listen: "127.0.0.1:0", ReadCommunity: "public", WriteCommunity: "private"}, tree)
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go agent.Serve(ctx)

	client := &gosnmp.GoSNMP{
		Target:    "127.0.0.1",
		Port:      uint16(agent.Addr().(*net.UDPAddr).Port),
		Community: "private",
		Version:   gosnmp.Version2c,
		Timeout:   time.Second,
	}
	if err := client.Connect(); err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	if _, err := client.Set([]gosnmp.SnmpPDU{{Name: statusOID, Type: gosnmp.Integer, Value: 1}}); err != nil {
		log.Fatal(err)
	}
	res, err := client.Get([]string{"1.3.6.1.2.1.1.1.0", statusOID})
	if err != nil {
		log.Fatal(err)
	}
	for _, v := range res.Variables {
		if b, ok := v.Value.([]byte); ok {
			fmt.Println(v.Name, string(b))
		} else {
			fmt.Println(v.Name, v.Value)
		}
	}
	// Output:
	// .1.3.6.1.2.1.1.1.0 example PDU
	// .1.3.6.1.4.1.99999.1.1 1
}
