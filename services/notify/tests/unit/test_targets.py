"""The SSRF guard for webhook targets."""
import pytest

from notify.domain.targets import RefusedTarget, TargetPolicy, check, parse

pytestmark = pytest.mark.unit

PROD = TargetPolicy.of(allow_http=False, allowed_networks=[])
DEV = TargetPolicy.of(allow_http=True, allowed_networks=["127.0.0.0/8"])


def resolver(mapping):
    def resolve(host, port):
        if host not in mapping:
            raise OSError("no such host")
        return mapping[host]
    return resolve


PUBLIC = resolver({"hooks.example.org": ["93.184.216.34"], "mixed.example.org": ["93.184.216.34", "10.1.2.3"],
                   "localhost": ["127.0.0.1"], "v6.example.org": ["2606:2800:220:1:248:1893:25c8:1946"]})


def reason(url, policy=PROD, res=PUBLIC):
    with pytest.raises(RefusedTarget) as info:
        check(url, policy, res)
    return info.value.reason


def test_public_https_targets_pass_and_pin_the_vetted_address():
    target, addresses = check("https://hooks.example.org/care-route?x=1", PROD, PUBLIC)
    assert addresses == ["93.184.216.34"]
    assert target.url_for(addresses[0]) == "https://93.184.216.34:443/care-route?x=1"
    assert target.host_header == "hooks.example.org"
    target, addresses = check("https://v6.example.org:8443/h", PROD, PUBLIC)
    assert target.url_for(addresses[0]).startswith("https://[2606:") and target.host_header == "v6.example.org:8443"


@pytest.mark.parametrize("url,expected", [
    ("http://hooks.example.org/", "https-required"),                 # plain http in production
    ("ftp://hooks.example.org/", "https-required"),
    ("https://user:pw@hooks.example.org/", "credentials-in-url"),
    ("https://10.0.0.5/", "private-address"),
    ("https://192.168.1.1/", "private-address"),
    ("https://127.0.0.1/", "private-address"),
    ("https://localhost/", "private-address"),
    ("https://[::1]/", "private-address"),
    ("https://[::ffff:127.0.0.1]/", "private-address"),             # IPv4-mapped loopback
    ("https://169.254.169.254/latest/meta-data/", "metadata-address"),
    ("https://100.100.100.200/", "metadata-address"),
    ("https://[fd00:ec2::254]/", "metadata-address"),
    ("https://100.64.0.1/", "private-address"),                      # carrier-grade NAT
    ("https://0.0.0.0/", "private-address"),
    ("https://mixed.example.org/", "private-address"),               # one private answer poisons the name
    ("https://nowhere.invalid/", "unresolvable-host"),
    ("https:///nohost", "malformed-url"),
    ("https://hooks.example.org/ spaced", "malformed-url"),
])
def test_dangerous_targets_are_refused(url, expected):
    assert reason(url) == expected


def test_allow_listed_networks_pass_in_development_but_metadata_never_does():
    assert check("http://127.0.0.1:8080/hook", DEV, PUBLIC)[1] == ["127.0.0.1"]
    assert check("http://localhost:8080/hook", DEV, PUBLIC)[1] == ["127.0.0.1"]
    wide = TargetPolicy.of(allow_http=True, allowed_networks=["169.254.0.0/16", "10.0.0.0/8"])
    assert reason("http://169.254.169.254/", wide) == "metadata-address"
    assert check("http://10.0.0.7/", wide, PUBLIC)[1] == ["10.0.0.7"]


def test_dns_rebinding_is_caught_at_send_time():
    """The name resolved to a public address when registered; at send time it points inside."""
    assert check("https://hooks.example.org/", PROD, PUBLIC)
    rebound = resolver({"hooks.example.org": ["127.0.0.1"]})
    assert reason("https://hooks.example.org/", PROD, rebound) == "private-address"


def test_parse_keeps_path_and_query_and_default_ports():
    t = parse("https://Hooks.Example.org./a/b?c=d", PROD)
    assert (t.host, t.port, t.path) == ("hooks.example.org", 443, "/a/b?c=d")
