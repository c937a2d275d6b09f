/*
 * For scripts/test-windows.sh only, never shipped: Rust's std (1.78+) takes
 * its random bytes from ProcessPrng in bcryptprimitives.dll, which every
 * Windows 10/11 has but Debian 12's wine 8.0 does not (wine 9 does). This
 * DLL, put in the test prefix's system32, gives wine one, drawing from
 * RtlGenRandom (advapi32's SystemFunction036), which wine has.
 */
#include <windows.h>
#include <ntsecapi.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len) {
        ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!RtlGenRandom(data, n))
            return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}
