// png.js — just enough PNG to check screenshots: pngInfo() validates the
// signature and reads IHDR; decodePng() inflates 8-bit RGB/RGBA (non-interlaced,
// what Chromium writes) into pixels so tests can look at colors.
import zlib from 'node:zlib';

const SIG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

// CRC-32 as PNG defines it (for checking chunk integrity).
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// Walk the chunks; throws on a bad signature, truncation or a CRC mismatch.
function chunks(buf) {
  if (!Buffer.isBuffer(buf)) buf = Buffer.from(buf);
  if (buf.length < 8 || !buf.subarray(0, 8).equals(SIG)) throw new Error('not a PNG (bad signature)');
  const out = [];
  let off = 8;
  while (off < buf.length) {
    if (off + 12 > buf.length) throw new Error(`PNG truncated at offset ${off}`);
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    if (off + 12 + len > buf.length) throw new Error(`PNG chunk ${type} truncated`);
    const data = buf.subarray(off + 8, off + 8 + len);
    const crc = buf.readUInt32BE(off + 8 + len);
    if (crc32(buf.subarray(off + 4, off + 8 + len)) !== crc) throw new Error(`PNG chunk ${type}: bad CRC`);
    out.push({ type, data });
    off += 12 + len;
    if (type === 'IEND') break;
  }
  if (!out.length || out[0].type !== 'IHDR') throw new Error('PNG: first chunk is not IHDR');
  if (out[out.length - 1].type !== 'IEND') throw new Error('PNG: no IEND');
  return out;
}

// {width, height, bitDepth, colorType, interlace}
export function pngInfo(buf) {
  const ihdr = chunks(buf)[0].data;
  if (ihdr.length !== 13) throw new Error('PNG: IHDR length is not 13');
  return {
    width: ihdr.readUInt32BE(0),
    height: ihdr.readUInt32BE(4),
    bitDepth: ihdr[8],
    colorType: ihdr[9],
    interlace: ihdr[12],
  };
}

// {width, height, channels, pixels: Buffer(width*height*channels), at(x,y) → [r,g,b,a]}
export function decodePng(buf) {
  const cs = chunks(buf);
  const info = pngInfo(buf);
  const channels = { 2: 3, 6: 4 }[info.colorType];
  if (info.bitDepth !== 8 || !channels || info.interlace !== 0) {
    throw new Error(`decodePng: unsupported PNG (depth ${info.bitDepth}, color type ${info.colorType}, interlace ${info.interlace})`);
  }
  const raw = zlib.inflateSync(Buffer.concat(cs.filter((c) => c.type === 'IDAT').map((c) => c.data)));
  const { width: w, height: h } = info;
  const stride = w * channels;
  if (raw.length < h * (stride + 1)) throw new Error('decodePng: image data too short');
  const px = Buffer.alloc(h * stride);
  for (let y = 0; y < h; y++) {
    const f = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = px.subarray(y * stride, (y + 1) * stride);
    const up = y ? px.subarray((y - 1) * stride, y * stride) : Buffer.alloc(stride);
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? row[i - channels] : 0;
      const b = up[i];
      const c = i >= channels ? up[i - channels] : 0;
      let v;
      switch (f) {
        case 0: v = src[i]; break;
        case 1: v = src[i] + a; break;
        case 2: v = src[i] + b; break;
        case 3: v = src[i] + ((a + b) >> 1); break;
        case 4: {
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          v = src[i] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
          break;
        }
        default: throw new Error(`decodePng: bad filter ${f} on row ${y}`);
      }
      row[i] = v & 0xff;
    }
  }
  return {
    width: w,
    height: h,
    channels,
    pixels: px,
    at(x, y) {
      const o = (y * w + x) * channels;
      return [px[o], px[o + 1], px[o + 2], channels === 4 ? px[o + 3] : 255];
    },
  };
}
