package meter

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Prices are the rates runs are billed at, from the cluster config's
// `fargo.prices`; the defaults are EKS's us-east-1 Linux/x86 on-demand rates.
type Prices struct {
	Currency string `yaml:"currency" json:"currency"`
	// VCPUHour and GBHour price a Fargate pod's provisioned vCPU and memory.
	VCPUHour float64 `yaml:"vcpuHour" json:"vcpuHour"`
	GBHour   float64 `yaml:"gbHour" json:"gbHour"`
	// StorageGBHour prices ephemeral storage above the free 20 GiB.
	StorageGBHour float64 `yaml:"ephemeralStorageGBHour" json:"ephemeralStorageGBHour"`
	// InstanceHour prices node-group nodes by instance type.
	InstanceHour map[string]float64 `yaml:"instanceHour" json:"instanceHour"`
}

// DefaultPrices are EKS Fargate's us-east-1 Linux/x86 rates (aws.amazon.com/fargate/pricing)
// and EC2's us-east-1 on-demand Linux rates for the instance types node groups know.
func DefaultPrices() Prices {
	return Prices{Currency: "USD", VCPUHour: 0.04048, GBHour: 0.004445, StorageGBHour: 0.000111,
		InstanceHour: map[string]float64{
			"t3.micro": 0.0104, "t3.small": 0.0208, "t3.medium": 0.0416, "t3.large": 0.0832, "t3.xlarge": 0.1664, "t3.2xlarge": 0.3328,
			"m5.large": 0.096, "m5.xlarge": 0.192, "m5.2xlarge": 0.384, "m5.4xlarge": 0.768,
			"c5.large": 0.085, "c5.xlarge": 0.17, "c5.2xlarge": 0.34, "c5.4xlarge": 0.68,
			"r5.large": 0.126, "r5.xlarge": 0.252, "r5.2xlarge": 0.504, "r5.4xlarge": 1.008,
		}}
}

// WithDefaults fills what p leaves unset from the defaults; instance prices
// given replace the default for their type only.
func (p Prices) WithDefaults() Prices {
	d := DefaultPrices()
	if p.Currency == "" {
		p.Currency = d.Currency
	}
	if p.VCPUHour == 0 {
		p.VCPUHour = d.VCPUHour
	}
	if p.GBHour == 0 {
		p.GBHour = d.GBHour
	}
	if p.StorageGBHour == 0 {
		p.StorageGBHour = d.StorageGBHour
	}
	for t, price := range p.InstanceHour {
		d.InstanceHour[t] = price
	}
	p.InstanceHour = d.InstanceHour
	return p
}

// Validate refuses negative rates.
func (p Prices) Validate() error {
	var bad []string
	for name, v := range map[string]float64{"vcpuHour": p.VCPUHour, "gbHour": p.GBHour, "ephemeralStorageGBHour": p.StorageGBHour} {
		if v < 0 {
			bad = append(bad, fmt.Sprintf("fargo.prices.%s is %g", name, v))
		}
	}
	for t, v := range p.InstanceHour {
		if v < 0 {
			bad = append(bad, fmt.Sprintf("fargo.prices.instanceHour[%s] is %g", t, v))
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return fmt.Errorf("%s: prices cannot be negative", strings.Join(bad, ", "))
	}
	return nil
}

// Hourly is what a size costs per hour; false for an instance type without a price.
func (p Prices) Hourly(s Size) (float64, bool) {
	if s.InstanceType != "" {
		price, ok := p.InstanceHour[s.InstanceType]
		return price, ok
	}
	return s.VCPU()*p.VCPUHour + s.GB()*p.GBHour + s.ExtraStorageGB()*p.StorageGBHour, true
}

// Cost is what d at size s costs (0 for an instance type without a price).
func (p Prices) Cost(s Size, d time.Duration) float64 {
	hourly, _ := p.Hourly(s)
	return hourly * d.Hours()
}
