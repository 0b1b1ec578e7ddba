// VMCS field encodings (Intel SDM vol. 3, appendix B) as typed constants. VMREAD/VMWRITE take
// a 32-bit encoding that packs the field's width, kind and index:
//     bit 0       access type (0 = full; 1 = high half of a 64-bit field, 32-bit mode only)
//     bits 9:1    index
//     bits 11:10  type: 0 control, 1 VM-exit information (read-only), 2 guest state, 3 host state
//     bits 14:13  width: 0 16-bit, 1 64-bit, 2 32-bit, 3 natural width
// Every constant below is built from those parts by `encode`, and spot checks against the
// appendix's table pin the arithmetic, so a wrong index cannot hide behind a typo in hex.
#pragma once

#include <stdint.h>

namespace halcyon::vmx {

enum class FieldWidth : uint8_t { bits16 = 0, bits64 = 1, bits32 = 2, natural = 3 };
enum class FieldType : uint8_t { control = 0, exit_information = 1, guest = 2, host = 3 };

enum class VmcsField : uint32_t {};

[[nodiscard]] constexpr VmcsField encode(FieldWidth width, FieldType type, uint32_t index) {
    return static_cast<VmcsField>(static_cast<uint32_t>(width) << 13 |
                                  static_cast<uint32_t>(type) << 10 | index << 1);
}
[[nodiscard]] constexpr uint32_t encoding(VmcsField field) {
    return static_cast<uint32_t>(field);
}
[[nodiscard]] constexpr FieldWidth width_of(VmcsField field) {
    return static_cast<FieldWidth>((encoding(field) >> 13) & 3);
}
[[nodiscard]] constexpr bool is_read_only(VmcsField field) {
    return ((encoding(field) >> 10) & 3) == static_cast<uint32_t>(FieldType::exit_information);
}

namespace field {
using W = FieldWidth;
using T = FieldType;

// 16-bit control fields.
inline constexpr VmcsField kVpid = encode(W::bits16, T::control, 0);
// 16-bit guest-state fields: the segment selectors in ES, CS, SS, DS, FS, GS, LDTR, TR order.
inline constexpr VmcsField kGuestEsSelector = encode(W::bits16, T::guest, 0);
inline constexpr VmcsField kGuestCsSelector = encode(W::bits16, T::guest, 1);
inline constexpr VmcsField kGuestSsSelector = encode(W::bits16, T::guest, 2);
inline constexpr VmcsField kGuestDsSelector = encode(W::bits16, T::guest, 3);
inline constexpr VmcsField kGuestFsSelector = encode(W::bits16, T::guest, 4);
inline constexpr VmcsField kGuestGsSelector = encode(W::bits16, T::guest, 5);
inline constexpr VmcsField kGuestLdtrSelector = encode(W::bits16, T::guest, 6);
inline constexpr VmcsField kGuestTrSelector = encode(W::bits16, T::guest, 7);
// 16-bit host-state fields.
inline constexpr VmcsField kHostEsSelector = encode(W::bits16, T::host, 0);
inline constexpr VmcsField kHostCsSelector = encode(W::bits16, T::host, 1);
inline constexpr VmcsField kHostSsSelector = encode(W::bits16, T::host, 2);
inline constexpr VmcsField kHostDsSelector = encode(W::bits16, T::host, 3);
inline constexpr VmcsField kHostFsSelector = encode(W::bits16, T::host, 4);
inline constexpr VmcsField kHostGsSelector = encode(W::bits16, T::host, 5);
inline constexpr VmcsField kHostTrSelector = encode(W::bits16, T::host, 6);

// 64-bit control fields.
inline constexpr VmcsField kIoBitmapA = encode(W::bits64, T::control, 0);
inline constexpr VmcsField kIoBitmapB = encode(W::bits64, T::control, 1);
inline constexpr VmcsField kMsrBitmap = encode(W::bits64, T::control, 2);
inline constexpr VmcsField kExitMsrStoreAddress = encode(W::bits64, T::control, 3);
inline constexpr VmcsField kExitMsrLoadAddress = encode(W::bits64, T::control, 4);
inline constexpr VmcsField kEntryMsrLoadAddress = encode(W::bits64, T::control, 5);
inline constexpr VmcsField kTscOffset = encode(W::bits64, T::control, 8);
inline constexpr VmcsField kVirtualApicAddress = encode(W::bits64, T::control, 9);
inline constexpr VmcsField kApicAccessAddress = encode(W::bits64, T::control, 10);
inline constexpr VmcsField kEptPointer = encode(W::bits64, T::control, 13);
// 64-bit read-only field.
inline constexpr VmcsField kGuestPhysicalAddress = encode(W::bits64, T::exit_information, 0);
// 64-bit guest-state fields.
inline constexpr VmcsField kVmcsLinkPointer = encode(W::bits64, T::guest, 0);
inline constexpr VmcsField kGuestDebugControl = encode(W::bits64, T::guest, 1);
inline constexpr VmcsField kGuestPat = encode(W::bits64, T::guest, 2);
inline constexpr VmcsField kGuestEfer = encode(W::bits64, T::guest, 3);
inline constexpr VmcsField kGuestPerfGlobalControl = encode(W::bits64, T::guest, 4);
inline constexpr VmcsField kGuestPdpte0 = encode(W::bits64, T::guest, 5);
inline constexpr VmcsField kGuestPdpte1 = encode(W::bits64, T::guest, 6);
inline constexpr VmcsField kGuestPdpte2 = encode(W::bits64, T::guest, 7);
inline constexpr VmcsField kGuestPdpte3 = encode(W::bits64, T::guest, 8);
// 64-bit host-state fields.
inline constexpr VmcsField kHostPat = encode(W::bits64, T::host, 0);
inline constexpr VmcsField kHostEfer = encode(W::bits64, T::host, 1);

// 32-bit control fields.
inline constexpr VmcsField kPinBasedControls = encode(W::bits32, T::control, 0);
inline constexpr VmcsField kPrimaryProcessorControls = encode(W::bits32, T::control, 1);
inline constexpr VmcsField kExceptionBitmap = encode(W::bits32, T::control, 2);
inline constexpr VmcsField kPageFaultErrorMask = encode(W::bits32, T::control, 3);
inline constexpr VmcsField kPageFaultErrorMatch = encode(W::bits32, T::control, 4);
inline constexpr VmcsField kCr3TargetCount = encode(W::bits32, T::control, 5);
inline constexpr VmcsField kExitControls = encode(W::bits32, T::control, 6);
inline constexpr VmcsField kExitMsrStoreCount = encode(W::bits32, T::control, 7);
inline constexpr VmcsField kExitMsrLoadCount = encode(W::bits32, T::control, 8);
inline constexpr VmcsField kEntryControls = encode(W::bits32, T::control, 9);
inline constexpr VmcsField kEntryMsrLoadCount = encode(W::bits32, T::control, 10);
inline constexpr VmcsField kEntryInterruptionInfo = encode(W::bits32, T::control, 11);
inline constexpr VmcsField kEntryExceptionErrorCode = encode(W::bits32, T::control, 12);
inline constexpr VmcsField kEntryInstructionLength = encode(W::bits32, T::control, 13);
inline constexpr VmcsField kTprThreshold = encode(W::bits32, T::control, 14);
inline constexpr VmcsField kSecondaryProcessorControls = encode(W::bits32, T::control, 15);
// 32-bit read-only fields.
inline constexpr VmcsField kInstructionError = encode(W::bits32, T::exit_information, 0);
inline constexpr VmcsField kExitReason = encode(W::bits32, T::exit_information, 1);
inline constexpr VmcsField kExitInterruptionInfo = encode(W::bits32, T::exit_information, 2);
inline constexpr VmcsField kExitInterruptionErrorCode = encode(W::bits32, T::exit_information, 3);
inline constexpr VmcsField kIdtVectoringInfo = encode(W::bits32, T::exit_information, 4);
inline constexpr VmcsField kIdtVectoringErrorCode = encode(W::bits32, T::exit_information, 5);
inline constexpr VmcsField kExitInstructionLength = encode(W::bits32, T::exit_information, 6);
inline constexpr VmcsField kExitInstructionInfo = encode(W::bits32, T::exit_information, 7);
// 32-bit guest-state fields: limits and access rights in ES, CS, SS, DS, FS, GS, LDTR, TR order.
inline constexpr VmcsField kGuestEsLimit = encode(W::bits32, T::guest, 0);
inline constexpr VmcsField kGuestGdtrLimit = encode(W::bits32, T::guest, 8);
inline constexpr VmcsField kGuestIdtrLimit = encode(W::bits32, T::guest, 9);
inline constexpr VmcsField kGuestEsAccessRights = encode(W::bits32, T::guest, 10);
inline constexpr VmcsField kGuestInterruptibility = encode(W::bits32, T::guest, 18);
inline constexpr VmcsField kGuestActivityState = encode(W::bits32, T::guest, 19);
inline constexpr VmcsField kGuestSysenterCs = encode(W::bits32, T::guest, 21);
// 32-bit host-state field.
inline constexpr VmcsField kHostSysenterCs = encode(W::bits32, T::host, 0);

// Natural-width control fields.
inline constexpr VmcsField kCr0GuestHostMask = encode(W::natural, T::control, 0);
inline constexpr VmcsField kCr4GuestHostMask = encode(W::natural, T::control, 1);
inline constexpr VmcsField kCr0ReadShadow = encode(W::natural, T::control, 2);
inline constexpr VmcsField kCr4ReadShadow = encode(W::natural, T::control, 3);
// Natural-width read-only fields.
inline constexpr VmcsField kExitQualification = encode(W::natural, T::exit_information, 0);
inline constexpr VmcsField kGuestLinearAddress = encode(W::natural, T::exit_information, 5);
// Natural-width guest-state fields.
inline constexpr VmcsField kGuestCr0 = encode(W::natural, T::guest, 0);
inline constexpr VmcsField kGuestCr3 = encode(W::natural, T::guest, 1);
inline constexpr VmcsField kGuestCr4 = encode(W::natural, T::guest, 2);
inline constexpr VmcsField kGuestEsBase = encode(W::natural, T::guest, 3);
inline constexpr VmcsField kGuestGdtrBase = encode(W::natural, T::guest, 11);
inline constexpr VmcsField kGuestIdtrBase = encode(W::natural, T::guest, 12);
inline constexpr VmcsField kGuestDr7 = encode(W::natural, T::guest, 13);
inline constexpr VmcsField kGuestRsp = encode(W::natural, T::guest, 14);
inline constexpr VmcsField kGuestRip = encode(W::natural, T::guest, 15);
inline constexpr VmcsField kGuestRflags = encode(W::natural, T::guest, 16);
inline constexpr VmcsField kGuestPendingDebugExceptions = encode(W::natural, T::guest, 17);
inline constexpr VmcsField kGuestSysenterEsp = encode(W::natural, T::guest, 18);
inline constexpr VmcsField kGuestSysenterEip = encode(W::natural, T::guest, 19);
// Natural-width host-state fields.
inline constexpr VmcsField kHostCr0 = encode(W::natural, T::host, 0);
inline constexpr VmcsField kHostCr3 = encode(W::natural, T::host, 1);
inline constexpr VmcsField kHostCr4 = encode(W::natural, T::host, 2);
inline constexpr VmcsField kHostFsBase = encode(W::natural, T::host, 3);
inline constexpr VmcsField kHostGsBase = encode(W::natural, T::host, 4);
inline constexpr VmcsField kHostTrBase = encode(W::natural, T::host, 5);
inline constexpr VmcsField kHostGdtrBase = encode(W::natural, T::host, 6);
inline constexpr VmcsField kHostIdtrBase = encode(W::natural, T::host, 7);
inline constexpr VmcsField kHostSysenterEsp = encode(W::natural, T::host, 8);
inline constexpr VmcsField kHostSysenterEip = encode(W::natural, T::host, 9);
inline constexpr VmcsField kHostRsp = encode(W::natural, T::host, 10);
inline constexpr VmcsField kHostRip = encode(W::natural, T::host, 11);

} // namespace field

// The guest segment registers in VMCS order: selector, limit, access rights and base of segment
// n are the fields at index n of their group.
enum class SegmentRegister : uint8_t { es, cs, ss, ds, fs, gs, ldtr, tr };
inline constexpr int kSegmentRegisterCount = 8;

[[nodiscard]] constexpr VmcsField guest_selector(SegmentRegister s) {
    return encode(FieldWidth::bits16, FieldType::guest, static_cast<uint32_t>(s));
}
[[nodiscard]] constexpr VmcsField guest_limit(SegmentRegister s) {
    return encode(FieldWidth::bits32, FieldType::guest, static_cast<uint32_t>(s));
}
[[nodiscard]] constexpr VmcsField guest_access_rights(SegmentRegister s) {
    return encode(FieldWidth::bits32, FieldType::guest, 10 + static_cast<uint32_t>(s));
}
[[nodiscard]] constexpr VmcsField guest_base(SegmentRegister s) {
    return encode(FieldWidth::natural, FieldType::guest, 3 + static_cast<uint32_t>(s));
}

// Spot checks against the encodings the SDM's appendix B lists.
static_assert(encoding(field::kVpid) == 0x0000);
static_assert(encoding(field::kGuestTrSelector) == 0x080E);
static_assert(encoding(field::kHostTrSelector) == 0x0C0C);
static_assert(encoding(field::kMsrBitmap) == 0x2004);
static_assert(encoding(field::kTscOffset) == 0x2010);
static_assert(encoding(field::kVirtualApicAddress) == 0x2012);
static_assert(encoding(field::kEptPointer) == 0x201A);
static_assert(encoding(field::kGuestPhysicalAddress) == 0x2400);
static_assert(encoding(field::kVmcsLinkPointer) == 0x2800);
static_assert(encoding(field::kGuestEfer) == 0x2806);
static_assert(encoding(field::kGuestPdpte3) == 0x2810);
static_assert(encoding(field::kHostEfer) == 0x2C02);
static_assert(encoding(field::kPinBasedControls) == 0x4000);
static_assert(encoding(field::kEntryInterruptionInfo) == 0x4016);
static_assert(encoding(field::kSecondaryProcessorControls) == 0x401E);
static_assert(encoding(field::kInstructionError) == 0x4400);
static_assert(encoding(field::kExitInstructionLength) == 0x440C);
static_assert(encoding(guest_access_rights(SegmentRegister::tr)) == 0x4822);
static_assert(encoding(field::kGuestInterruptibility) == 0x4824);
static_assert(encoding(field::kGuestSysenterCs) == 0x482A);
static_assert(encoding(field::kHostSysenterCs) == 0x4C00);
static_assert(encoding(field::kCr4ReadShadow) == 0x6006);
static_assert(encoding(field::kExitQualification) == 0x6400);
static_assert(encoding(field::kGuestLinearAddress) == 0x640A);
static_assert(encoding(guest_base(SegmentRegister::tr)) == 0x6814);
static_assert(encoding(field::kGuestRflags) == 0x6820);
static_assert(encoding(field::kGuestSysenterEip) == 0x6826);
static_assert(encoding(field::kHostRip) == 0x6C16);

} // namespace halcyon::vmx
