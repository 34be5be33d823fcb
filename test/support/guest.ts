// Nubo's test guest (test/guest/): the image, and the one definition of the
// lines its init prints on the serial console, for the tests that boot it.
import { execFile, spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** test/guest/build.sh [OUTDIR]: prints the image's path. */
export const guestBuildScript = fileURLToPath(new URL('../guest/build.sh', import.meta.url));

let image: Promise<string> | undefined;

/**
 * The test guest's qcow2 image, built by test/guest/build.sh on first use in
 * this process (the script caches it across processes). Never write to it:
 * boot an overlay (`qemu-img create -b … -F qcow2`) or `snapshot=on`.
 */
export function testGuestImage(): Promise<string> {
  image ??= new Promise<string>((resolve, reject) => {
    execFile('bash', [guestBuildScript], { maxBuffer: 1 << 20, timeout: 600_000 }, (err, stdout, stderr) => {
      const path = stdout.trim().split('\n').pop();
      if (err || !path) reject(new Error(`test/guest/build.sh failed: ${err?.message ?? 'no path printed'}\n${stderr}`));
      else resolve(path);
    });
  });
  image.catch(() => (image = undefined));
  return image;
}

/** Whether qemu-system-x86_64 runs here. */
export function qemuAvailable(): boolean {
  return spawnSync('qemu-system-x86_64', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Why the qemu driver cannot make guests here (it needs QEMU and genisoimage for config drives), or false: a test's skip. */
export function qemuDriverMissing(): string | false {
  if (!qemuAvailable() || spawnSync('genisoimage', ['--version'], { stdio: 'ignore' }).status !== 0) {
    return 'qemu-system-x86_64 or genisoimage is missing (apt-get install qemu-system-x86 qemu-utils genisoimage)';
  }
  return false;
}

/** Every line of the guest starts with this. */
export const GUEST_PREFIX = 'nubo-guest: ';
/** The first line of each boot, printed as init starts. */
export const GUEST_INIT = 'nubo-guest: init';
/** The last line of a boot: the guest read its config drive and answers the power button. */
export const GUEST_READY = 'nubo-guest: ready';
/** Printed when the ACPI power button made the guest power off. */
export const GUEST_POWERDOWN = 'nubo-guest: powerdown';

/**
 * The "nubo-guest: key=value" lines, by key. boot counts boots on the
 * instance's disk (1, 2… or "unknown"); memory_mb is the kernel's MemTotal
 * (well under the flavor's RAM), ram_mb what the firmware gave the guest
 * (the flavor's RAM); disks is "vda:1024,vdb:1" (name:MiB); one nic line a
 * network interface ("eth0:fa:16:3e:…"); user_data is its first line;
 * user_data_exit the status of user_data run as a script (when it starts "#!").
 * The serial console ends lines with \r\n: the patterns allow it.
 */
export const guestLine = {
  boot: /^nubo-guest: boot=(\d+|unknown)\r?$/m,
  bootId: /^nubo-guest: boot_id=([0-9a-f-]{36})\r?$/m,
  configDrive: /^nubo-guest: config_drive=(\S+)\r?$/m,
  uuid: /^nubo-guest: uuid=([^\r\n]*)\r?$/m,
  hostname: /^nubo-guest: hostname=([^\r\n]*)\r?$/m,
  name: /^nubo-guest: name=([^\r\n]*)\r?$/m,
  publicKey: /^nubo-guest: public_key=([^\r\n]*)\r?$/m,
  userData: /^nubo-guest: user_data=([^\r\n]*)\r?$/m,
  memoryMb: /^nubo-guest: memory_mb=(\d+)\r?$/m,
  ramMb: /^nubo-guest: ram_mb=(\d+)\r?$/m,
  vcpus: /^nubo-guest: vcpus=(\d+)\r?$/m,
  disks: /^nubo-guest: disks=([^\r\n]*)\r?$/m,
  nic: /^nubo-guest: nic=(\S+)\r?$/m,
  uptime: /^nubo-guest: uptime=([\d.]+)\r?$/m,
  userDataExit: /^nubo-guest: user_data_exit=(\d+)\r?$/m,
} as const;

/** What one boot of the guest reported: each key=value line (the last nic wins), and whether it got ready. */
export interface GuestBoot {
  values: Record<string, string>;
  nics: string[];
  ready: boolean;
}

/** The boots in a console log, oldest first (a boot starts at its GUEST_INIT line). */
export function parseGuestConsole(text: string): GuestBoot[] {
  const boots: GuestBoot[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line === GUEST_INIT) boots.push({ values: {}, nics: [], ready: false });
    const boot = boots.at(-1);
    if (!boot || !line.startsWith(GUEST_PREFIX)) continue;
    if (line === GUEST_READY) boot.ready = true;
    const m = /^([a-z_]+)=(.*)$/.exec(line.slice(GUEST_PREFIX.length));
    if (!m) continue;
    boot.values[m[1]] = m[2];
    if (m[1] === 'nic') boot.nics.push(m[2]);
  }
  return boots;
}

/**
 * Polls a serial console log until `until` holds for its boots, or fails
 * after timeoutMs with the log's tail in the message.
 */
export async function waitForGuest(
  consoleLog: string,
  until: (boots: GuestBoot[]) => boolean,
  timeoutMs: number,
): Promise<GuestBoot[]> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  for (;;) {
    text = await readFile(consoleLog, 'utf8').catch(() => '');
    const boots = parseGuestConsole(text);
    if (until(boots)) return boots;
    if (Date.now() > deadline) throw new Error(`guest console did not get there in ${timeoutMs} ms:\n${text.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
