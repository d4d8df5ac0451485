package parking

import (
	"fmt"
	"strings"

	"github.com/menjin/menjin/accessctl"
)

// Category is the neutral "who is passing" of §3.5. Every model numbers it
// differently; translate at the edges, never pass raw integers between
// models (§10 G21).
type Category int

const (
	CategoryUnknown Category = iota
	CategoryOrdinary
	CategoryWhitelist
	CategoryBlacklist
	CategoryTemporary
	CategoryNoPlate
)

var categoryNames = [...]string{"unknown", "ordinary", "whitelist", "blacklist", "temporary", "no-plate"}

func (c Category) String() string {
	if c >= 0 && int(c) < len(categoryNames) {
		return categoryNames[c]
	}
	return fmt.Sprintf("Category(%d)", int(c))
}

// MarshalText names the category.
func (c Category) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// Situation is the LED scene of the category (whitelist shares 1 with ordinary).
func (c Category) Situation() Situation {
	switch c {
	case CategoryOrdinary, CategoryWhitelist:
		return SituationOrdinary
	case CategoryBlacklist:
		return SituationBlacklist
	case CategoryTemporary:
		return SituationTemporary
	case CategoryNoPlate:
		return SituationNoPlate
	}
	return SituationIdle
}

// V2 is iot_park_record_v2_model.typePermission (0 ordinary, 1 temporary,
// 2 whitelist, 3 blacklist, 4 unplated); -1 for CategoryUnknown, which the
// model cannot say.
func (c Category) V2() int {
	switch c {
	case CategoryOrdinary:
		return 0
	case CategoryTemporary:
		return 1
	case CategoryWhitelist:
		return 2
	case CategoryBlacklist:
		return 3
	case CategoryNoPlate:
		return 4
	}
	return -1
}

// CategoryFromV2 reads iot_park_record_v2_model.typePermission.
func CategoryFromV2(v int) Category {
	switch v {
	case 0:
		return CategoryOrdinary
	case 1:
		return CategoryTemporary
	case 2:
		return CategoryWhitelist
	case 3:
		return CategoryBlacklist
	case 4:
		return CategoryNoPlate
	}
	return CategoryUnknown
}

// PermissionType is the permission file's permissionType (1 ordinary,
// 2 whitelist, 3 blacklist); 0 for categories the file cannot hold.
func (c Category) PermissionType() int {
	switch c {
	case CategoryOrdinary:
		return 1
	case CategoryWhitelist:
		return 2
	case CategoryBlacklist:
		return 3
	}
	return 0
}

// CategoryFromPermissionType reads the permission file's permissionType.
func CategoryFromPermissionType(v int) Category {
	switch v {
	case 1:
		return CategoryOrdinary
	case 2:
		return CategoryWhitelist
	case 3:
		return CategoryBlacklist
	}
	return CategoryUnknown
}

// PassRecordType is iot_park_pass_record.typePermission (0 unknown,
// 1 ordinary, 2 temporary, 3 whitelist).
func (c Category) PassRecordType() int {
	switch c {
	case CategoryOrdinary:
		return 1
	case CategoryTemporary:
		return 2
	case CategoryWhitelist:
		return 3
	}
	return 0
}

// CategoryFromPassRecord reads iot_park_pass_record.typePermission.
func CategoryFromPassRecord(v int) Category {
	switch v {
	case 1:
		return CategoryOrdinary
	case 2:
		return CategoryTemporary
	case 3:
		return CategoryWhitelist
	}
	return CategoryUnknown
}

// ListType is the cloud black/white list type: WHITELIST or BLACKLIST.
func (c Category) ListType() string {
	switch c {
	case CategoryWhitelist:
		return "WHITELIST"
	case CategoryBlacklist:
		return "BLACKLIST"
	}
	return ""
}

// CategoryFromListType reads WHITELIST/whitelist and BLACKLIST/blacklist.
func CategoryFromListType(s string) Category {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "WHITELIST":
		return CategoryWhitelist
	case "BLACKLIST":
		return CategoryBlacklist
	}
	return CategoryUnknown
}

// DirectionFromWire reads the direction encodings of §10 G22: 0/1(/2)
// integers (as numbers or strings) and IN/OUT in any case.
func DirectionFromWire(s string) accessctl.Direction {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "0", "in", "entry", "entrance":
		return accessctl.DirectionIn
	case "1", "out", "exit":
		return accessctl.DirectionOut
	}
	return accessctl.DirectionUnknown
}

// DirectionToWire is the 0 entrance / 1 exit / 2 unknown integer.
func DirectionToWire(d accessctl.Direction) int {
	switch d {
	case accessctl.DirectionIn:
		return 0
	case accessctl.DirectionOut:
		return 1
	}
	return 2
}

// OpenKind is the neutral opening type (§10 G23).
type OpenKind string

const (
	OpenNormal   OpenKind = "normal"
	OpenAbnormal OpenKind = "abnormal"
	OpenManual   OpenKind = "manual"
	OpenUnknown  OpenKind = "unknown"
)

// OpenKindFromV2 reads iot_park_record_v2_model.openType (0 normal,
// 1 abnormal, 2 manual).
func OpenKindFromV2(v int) OpenKind {
	switch v {
	case 0:
		return OpenNormal
	case 1:
		return OpenAbnormal
	case 2:
		return OpenManual
	}
	return OpenUnknown
}

// V2 is the iot_park_record_v2_model.openType of k; -1 for OpenUnknown,
// which that model cannot say.
func (k OpenKind) V2() int {
	switch k {
	case OpenNormal:
		return 0
	case OpenAbnormal:
		return 1
	case OpenManual:
		return 2
	}
	return -1
}

// VehicleColor is a neutral body colour (§5.5).
type VehicleColor string

const (
	VehicleColorUnknown VehicleColor = ""
	VehicleColorOther   VehicleColor = "other"
	VehicleWhite        VehicleColor = "white"
	VehicleGrey         VehicleColor = "grey"
	VehicleYellow       VehicleColor = "yellow"
	VehiclePink         VehicleColor = "pink"
	VehicleRed          VehicleColor = "red"
	VehiclePurple       VehicleColor = "purple"
	VehicleGreen        VehicleColor = "green"
	VehicleBlue         VehicleColor = "blue"
	VehicleBrown        VehicleColor = "brown"
	VehicleBlack        VehicleColor = "black"
	VehicleCyan         VehicleColor = "cyan"
	VehicleOrange       VehicleColor = "orange"
	VehicleSilver       VehicleColor = "silver"
	VehicleNavy         VehicleColor = "navy"
)

type vehicleColorRow struct {
	c      VehicleColor
	letter string // v2 carColorNumber
	list   int    // cloud black/white list color; -1: absent
	record int    // iot_park_pass_record.vehicleColor; -1: absent
}

var vehicleColors = []vehicleColorRow{
	{VehicleColorOther, "Z", 0, -1},
	{VehicleWhite, "A", 1, 5},
	{VehicleGrey, "B", 2, 6},
	{VehicleYellow, "C", 3, 4},
	{VehiclePink, "D", 4, 10},
	{VehicleRed, "E", 5, 1},
	{VehiclePurple, "F", 6, 8},
	{VehicleGreen, "G", 7, 2},
	{VehicleBlue, "H", 8, 3},
	{VehicleBrown, "I", 9, 9},
	{VehicleBlack, "J", 10, 7},
	{VehicleCyan, "L", 11, -1},
	{VehicleOrange, "K", -1, -1},
	{VehicleSilver, "M", -1, -1},
	{VehicleNavy, "N", -1, -1},
}

// find returns the first row that matches, or def.
func find[R any, V any](rows []R, match func(R) bool, val func(R) V, def V) V {
	for _, r := range rows {
		if match(r) {
			return val(r)
		}
	}
	return def
}

func (r vehicleColorRow) color() VehicleColor { return r.c }

// VehicleColorFromLetter reads v2 carColorNumber; unknown letters are
// "other" (§10 G24), an empty one unknown.
func VehicleColorFromLetter(s string) VehicleColor {
	s = strings.ToUpper(strings.TrimSpace(s))
	if s == "" {
		return VehicleColorUnknown
	}
	return find(vehicleColors, func(r vehicleColorRow) bool { return r.letter == s }, vehicleColorRow.color, VehicleColorOther)
}

// Letter is the v2 carColorNumber of c ("Z" for other and unknown).
func (c VehicleColor) Letter() string {
	return find(vehicleColors, func(r vehicleColorRow) bool { return r.c == c },
		func(r vehicleColorRow) string { return r.letter }, "Z")
}

// VehicleColorFromList reads the cloud black/white list color code.
func VehicleColorFromList(v int) VehicleColor {
	return find(vehicleColors, func(r vehicleColorRow) bool { return v >= 0 && r.list == v }, vehicleColorRow.color, VehicleColorOther)
}

// ListCode is the cloud list color of c (0 "other" when the list lacks it).
func (c VehicleColor) ListCode() int {
	return find(vehicleColors, func(r vehicleColorRow) bool { return r.c == c && r.list >= 0 },
		func(r vehicleColorRow) int { return r.list }, 0)
}

// VehicleColorFromPassRecord reads iot_park_pass_record.vehicleColor (0 unknown).
func VehicleColorFromPassRecord(v int) VehicleColor {
	if v == 0 {
		return VehicleColorUnknown
	}
	return find(vehicleColors, func(r vehicleColorRow) bool { return r.record == v }, vehicleColorRow.color, VehicleColorOther)
}

// PassRecordCode is the iot_park_pass_record.vehicleColor of c (0 unknown
// where that model lacks the colour).
func (c VehicleColor) PassRecordCode() int {
	return find(vehicleColors, func(r vehicleColorRow) bool { return r.c == c && r.record >= 0 },
		func(r vehicleColorRow) int { return r.record }, 0)
}

// PlateColor is a neutral plate colour (§5.5).
type PlateColor string

const (
	PlateColorUnknown  PlateColor = ""
	PlateBlue          PlateColor = "blue"
	PlateYellow        PlateColor = "yellow"
	PlateWhite         PlateColor = "white"
	PlateBlack         PlateColor = "black"
	PlateGreen         PlateColor = "green"
	PlateYellowGreen   PlateColor = "yellow-green"
	PlateRed           PlateColor = "red"
	PlateGradientGreen PlateColor = "gradient-green"
	PlateColorOther    PlateColor = "other"
)

type plateColorRow struct {
	c      PlateColor
	v2     int // v2 plateColorNumber
	record int // iot_park_pass_record.plateColor; -1: absent
}

var plateColors = []plateColorRow{
	{PlateColorUnknown, 9, 0},
	{PlateBlue, 2, 1},
	{PlateYellow, 1, 2},
	{PlateWhite, 0, 3},
	{PlateBlack, 3, 4},
	{PlateGreen, 5, 5},
	{PlateYellowGreen, 7, 6},
	{PlateRed, 6, -1},
	{PlateGradientGreen, 8, -1},
	{PlateColorOther, 4, -1},
}

func (r plateColorRow) color() PlateColor { return r.c }

// PlateColorFromV2 reads v2 plateColorNumber (9: not recognised).
func PlateColorFromV2(v int) PlateColor {
	return find(plateColors, func(r plateColorRow) bool { return r.v2 == v }, plateColorRow.color, PlateColorOther)
}

// V2 is the v2 plateColorNumber of c.
func (c PlateColor) V2() int {
	return find(plateColors, func(r plateColorRow) bool { return r.c == c }, func(r plateColorRow) int { return r.v2 }, 4)
}

// PlateColorFromPassRecord reads iot_park_pass_record.plateColor.
func PlateColorFromPassRecord(v int) PlateColor {
	return find(plateColors, func(r plateColorRow) bool { return r.record == v }, plateColorRow.color, PlateColorOther)
}

// PassRecordCode is the iot_park_pass_record.plateColor of c (0 where
// that model lacks the colour).
func (c PlateColor) PassRecordCode() int {
	return find(plateColors, func(r plateColorRow) bool { return r.c == c && r.record >= 0 },
		func(r plateColorRow) int { return r.record }, 0)
}

// PlateNumberTypes names the v2 plateNumberType codes.
var PlateNumberTypes = map[string]string{
	"01": "large vehicle", "02": "small vehicle", "03": "embassy vehicle",
	"04": "consulate vehicle", "05": "cross-border vehicle", "06": "foreign vehicle",
	"07": "ordinary motorcycle", "08": "light motorcycle", "09": "embassy motorcycle",
	"51": "large new-energy", "52": "small new-energy", "99": "other",
}

// PassRecordPlateTypes names iot_park_pass_record.plateType. It is an enum
// despite the powers of two (9001–9004 are not): never OR the values.
var PassRecordPlateTypes = map[int]string{
	0: "unknown", 1: "blue", 2: "single-row yellow", 4: "police", 8: "armed police",
	16: "double-row yellow", 32: "motorcycle", 64: "driving-school", 128: "military",
	256: "personalised", 512: "Hong Kong/Macau", 1024: "embassy", 2048: "old-style",
	4096: "civil aviation", 8192: "new-energy small", 9001: "Hong Kong cross-boundary",
	9002: "agricultural", 9003: "Macau cross-boundary", 9004: "unplated",
}
