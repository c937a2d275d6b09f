//! Building a base request the way a Windows client fills it in.
use crate::catalog::{self, Sku};
use crate::kms::{RequestRepr, Version, Workstation};
use crate::time::FileTime;
use crate::Guid;

/// Fields a client sends, with defaults from the catalogue for a SKU.
#[derive(Debug, Clone, Copy)]
pub struct RequestBuilder {
    pub repr: RequestRepr,
}

impl RequestBuilder {
    /// A request for `sku` with the protocol version, N policy and ids its
    /// clients use; CMID and time still need setting.
    pub fn for_sku(sku: &Sku) -> RequestBuilder {
        let app = catalog::application_by_key(sku.app).id;
        let (n_policy, protocol) = match catalog::kms_id(&sku.kms) {
            Some(k) => (k.n_policy, k.protocol),
            None => (25, 6),
        };
        RequestBuilder::new(app, sku.id, sku.kms, n_policy, protocol as u16)
    }

    pub fn new(application: Guid, sku: Guid, kms_id: Guid, n_policy: u32, protocol: u16) -> RequestBuilder {
        RequestBuilder {
            repr: RequestRepr {
                version: Version { major: protocol, minor: 0 },
                vm_info: 0,
                license_status: 2,
                binding_expiration: 43_200,
                application,
                sku,
                kms_id,
                cmid: Guid::ZERO,
                n_policy,
                request_time: FileTime(0),
                previous_cmid: Guid::ZERO,
                workstation: Workstation::default(),
            },
        }
    }

    pub fn version(mut self, v: Version) -> Self {
        self.repr.version = v;
        self
    }
    pub fn cmid(mut self, cmid: Guid) -> Self {
        self.repr.cmid = cmid;
        self
    }
    /// A random CMID with the version-4 UUID bits set, as Windows makes them.
    pub fn random_cmid(self, random16: [u8; 16]) -> Self {
        let mut v = u128::from_be_bytes(random16);
        v = (v & !(0xF << 76)) | (0x4 << 76);
        v = (v & !(0x3 << 62)) | (0x2 << 62);
        self.cmid(Guid::from_u128(v))
    }
    pub fn previous_cmid(mut self, cmid: Guid) -> Self {
        self.repr.previous_cmid = cmid;
        self
    }
    pub fn time(mut self, t: FileTime) -> Self {
        self.repr.request_time = t;
        self
    }
    pub fn workstation(mut self, name: &str) -> Self {
        self.repr.workstation = Workstation::new(name);
        self
    }
    pub fn n_policy(mut self, n: u32) -> Self {
        self.repr.n_policy = n;
        self
    }
    pub fn license_status(mut self, s: u32) -> Self {
        self.repr.license_status = s;
        self
    }
    pub fn vm(mut self, vm: bool) -> Self {
        self.repr.vm_info = vm as u32;
        self
    }
    pub fn build(self) -> RequestRepr {
        self.repr
    }
}
