// Builds a pcap around recorded PDUs, byte by byte (the page under test
// parses it with real pcap and TCP/IP parsers): Ethernet + IPv4 + TCP, a
// handshake, then each PDU in its own segment.
function tcpFrame(src, dst, sport, dport, seq, flags, payload) {
  const tcp = Buffer.alloc(20);
  tcp.writeUInt16BE(sport, 0);
  tcp.writeUInt16BE(dport, 2);
  tcp.writeUInt32BE(seq >>> 0, 4);
  tcp[12] = 5 << 4;
  tcp[13] = flags;
  tcp.writeUInt16BE(65535, 14);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + 20 + payload.length, 2);
  ip[8] = 64;
  ip[9] = 6;
  Buffer.from(src).copy(ip, 12);
  Buffer.from(dst).copy(ip, 16);
  const eth = Buffer.from([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00]);
  return Buffer.concat([eth, ip, tcp, payload]);
}

export function pcapOf(pdus, { cport = 49700, sport = 1688 } = {}) {
  const C = [10, 0, 0, 2];
  const S = [10, 0, 0, 1];
  const SYN = 0x02;
  const ACK = 0x10;
  let cseq = 1000;
  let sseq = 5000;
  const frames = [
    tcpFrame(C, S, cport, sport, cseq, SYN, Buffer.alloc(0)),
    tcpFrame(S, C, sport, cport, sseq, SYN | ACK, Buffer.alloc(0)),
  ];
  cseq += 1;
  sseq += 1;
  for (const { c2s, bytes } of pdus) {
    if (c2s) { frames.push(tcpFrame(C, S, cport, sport, cseq, ACK, bytes)); cseq += bytes.length; }
    else { frames.push(tcpFrame(S, C, sport, cport, sseq, ACK, bytes)); sseq += bytes.length; }
  }
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(65535, 16);
  head.writeUInt32LE(1, 20);
  const recs = frames.map((f, i) => {
    const r = Buffer.alloc(16);
    r.writeUInt32LE(1717200000 + i, 0);
    r.writeUInt32LE(f.length, 8);
    r.writeUInt32LE(f.length, 12);
    return Buffer.concat([r, f]);
  });
  return Buffer.concat([head, ...recs]);
}
