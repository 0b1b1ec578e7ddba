/* halcyon-mgmt.elf, the management partition's program, embedded into the core image
 * (docs/management-partition.md, "The image"): the core loads its PT_LOAD segments into the
 * partition's identity region at boot and after every crash. Built without the image (its
 * target not configured) the two symbols are equal and the core reports that instead. */
    .section .rodata.mgmt_image, "a"
    .balign 16
    .globl halcyon_mgmt_image_start
halcyon_mgmt_image_start:
#ifdef HALCYON_MGMT_IMAGE_PATH
    .incbin HALCYON_MGMT_IMAGE_PATH
#endif
    .globl halcyon_mgmt_image_end
halcyon_mgmt_image_end:
    .balign 16
    .section .note.GNU-stack, "", @progbits
