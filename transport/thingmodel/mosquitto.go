package thingmodel

import (
	"bufio"
	"fmt"
	"io"
)

// WriteMosquittoACL writes a Mosquitto acl_file that gives an external
// broker the embedded broker's confinement: hostUser may use every Alink
// and status topic; each device (username "{deviceName}&{productKey}") may
// read only under /sys/{pk}/{dn}/thing/ and write only its posts, its
// replies and its status. Mosquitto cannot express "replies only" under
// thing/service/, so there a device may also write requests to itself.
// Mosquitto (2.0) checks wills against this ACL when it publishes them, so
// a will on another device's topic is dropped there too.
//
// Mosquitto does not check LinkKit signatures: pair the ACL with a
// password_file holding each device's signed password for a fixed
// timestamp (what doors without a clock send; see WithSignTime), or with an
// auth plugin.
func WriteMosquittoACL(w io.Writer, hostUser string, devices []DeviceKey) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "user %s\ntopic readwrite /sys/#\ntopic readwrite /as/mqtt/status/#\n", hostUser)
	for _, d := range devices {
		if !d.Valid() {
			return fmt.Errorf("thingmodel: invalid device key %q", d)
		}
		base := "/sys/" + d.ProductKey + "/" + d.DeviceName + "/thing/"
		fmt.Fprintf(bw, "\nuser %s&%s\n", d.DeviceName, d.ProductKey)
		fmt.Fprintf(bw, "topic read %s#\n", base)
		fmt.Fprintf(bw, "topic write %sevent/+/post\n", base)
		fmt.Fprintf(bw, "topic write %sservice/+\n", base)
		fmt.Fprintf(bw, "topic write %sservice/property/set_reply\n", base)
		fmt.Fprintf(bw, "topic write %s\n", StatusTopic(d))
	}
	return bw.Flush()
}
