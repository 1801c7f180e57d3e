//! Where a tenant-chosen URL (an alert webhook) may lead: public addresses only, unless the
//! operator allows ranges (on-premise receivers). Checked when a rule is created and again on
//! the address actually connected to, so a name that later resolves inward (DNS rebinding)
//! still cannot reach the operator's network.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An address range, `a.b.c.d/n` or `x::/n` (a bare address is a range of one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` is in the range (an IPv4-mapped IPv6 address counts as its IPv4 one).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (address, prefix) = s.split_once('/').unwrap_or((s, ""));
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("'{s}' is not an address range (a.b.c.d/n or x::/n)"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            "" => max,
            p => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("'{s}': the prefix must be 0 to {max}"))?,
        };
        // An IPv4 range written in IPv6 form (`::ffff:10.0.0.0/104`) is the IPv4 range, as the
        // addresses it is matched against are.
        match canonical(network) {
            IpAddr::V4(v4) if network.is_ipv6() && prefix >= 96 => Ok(Self {
                network: IpAddr::V4(v4),
                prefix: prefix - 96,
            }),
            _ => Ok(Self { network, prefix }),
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// Which addresses outgoing webhooks may reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    allowed: Vec<Cidr>,
}

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused(pub &'static str);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} address", self.0)
    }
}

impl std::error::Error for Refused {}

impl EgressPolicy {
    /// Public addresses, and those in `allowed`.
    pub fn allowing(allowed: Vec<Cidr>) -> Self {
        Self { allowed }
    }

    /// From a comma-separated list of ranges (`TOLLGATE_WEBHOOK_ALLOW_CIDRS`); empty: public
    /// addresses only.
    pub fn parse(list: &str) -> Result<Self, String> {
        let allowed = list
            .split(',')
            .filter(|part| !part.trim().is_empty())
            .map(str::parse)
            .collect::<Result<Vec<Cidr>, String>>()?;
        Ok(Self { allowed })
    }

    /// The ranges allowed beyond the public internet.
    pub fn allowed(&self) -> &[Cidr] {
        &self.allowed
    }

    /// Whether a connection to `ip` is allowed, or what kind of address refuses it.
    pub fn check(&self, ip: IpAddr) -> Result<(), Refused> {
        if self.allowed.iter().any(|range| range.contains(ip)) {
            return Ok(());
        }
        match special(canonical(ip)) {
            Some(kind) => Err(Refused(kind)),
            None => Ok(()),
        }
    }
}

/// An IPv4 address written as IPv6 (`::ffff:a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`) as the IPv4
/// address it reaches.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let bits = u128::from(v6);
            if bits >> 32 == 0x0064_ff9b_0000_0000_0000_0000 {
                return IpAddr::V4(Ipv4Addr::from(bits as u32));
            }
            IpAddr::V6(v6)
        }
        v4 => v4,
    }
}

/// The kind of a non-public address, `None` for a public one.
fn special(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_private() => "private",
        (169, 254, _) => "link-local or metadata",
        (100, 64..=127, _) => "shared (CGNAT)",
        _ if ip.is_multicast() => "multicast",
        (0, _, _) => "unspecified",
        _ if ip.is_broadcast() => "broadcast",
        (192, 0, 0) | (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "reserved",
        (198, 18..=19, _) => "benchmarking",
        (240..=255, _, _) => "reserved",
        _ => return None,
    })
}

fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    Some(match first {
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_multicast() => "multicast",
        f if f & 0xfe00 == 0xfc00 => "private (unique local)",
        f if f & 0xffc0 == 0xfe80 => "link-local",
        f if f & 0xffc0 == 0xfec0 => "site-local",
        // 6to4 and Teredo carry an IPv4 address the relay would reach; documentation range.
        0x2002 | 0x2001 if ip.segments()[1] == 0 || first == 0x2002 => "tunnelled",
        0x2001 if ip.segments()[1] == 0x0db8 => "reserved",
        // IPv4-compatible (::a.b.c.d) and other addresses below 2000::/3.
        f if f < 0x2000 => "reserved",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_public_addresses_pass_by_default() {
        let policy = EgressPolicy::default();
        for refused in [
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "224.0.0.1",
            "239.1.1.1",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "2002:7f00:1::",
            "2001:0:4136:e378::1",
            "2001:db8::1",
        ] {
            assert!(policy.check(ip(refused)).is_err(), "{refused} passed");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
        ] {
            assert!(policy.check(ip(public)).is_ok(), "{public} refused");
        }
    }

    #[test]
    fn an_allowed_range_passes_and_nothing_next_to_it() {
        let policy = EgressPolicy::parse(" 127.0.0.0/8, 10.20.0.0/16 ,fd12::/16").unwrap();
        assert!(policy.check(ip("127.0.0.1")).is_ok());
        assert!(policy.check(ip("::ffff:127.0.0.1")).is_ok());
        assert!(policy.check(ip("10.20.5.5")).is_ok());
        assert!(policy.check(ip("fd12::9")).is_ok());
        assert_eq!(policy.check(ip("10.21.0.1")), Err(Refused("private")));
        assert!(policy.check(ip("169.254.169.254")).is_err());
        assert!(policy.check(ip("::1")).is_err());
        let mapped = EgressPolicy::parse("::ffff:10.30.0.0/112").unwrap();
        assert!(mapped.check(ip("10.30.1.2")).is_ok());
        assert!(mapped.check(ip("::ffff:10.30.1.2")).is_ok());
        assert!(mapped.check(ip("10.31.0.1")).is_err());
        assert_eq!(EgressPolicy::parse("").unwrap(), EgressPolicy::default());
        assert!(EgressPolicy::parse("10.0.0.0/33").is_err());
        assert!(EgressPolicy::parse("localhost").is_err());
        assert_eq!(
            "10.0.0.0/8".parse::<Cidr>().unwrap().to_string(),
            "10.0.0.0/8"
        );
    }
}
