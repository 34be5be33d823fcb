import type { HostFilter } from './types.ts';

/**
 * ImagePropertiesFilter: an image that asks for an architecture
 * (hw_architecture), hypervisor type (img_hv_type, formerly hypervisor_type)
 * or VM mode (hw_vm_mode) runs only on hosts that advertise a supported
 * instance matching all it asks for. An image asking nothing runs anywhere;
 * a host advertising nothing runs only such images.
 */
export const imagePropertiesFilter: HostFilter = {
  name: 'ImagePropertiesFilter',
  passes: (host, req) => {
    const { architecture, hypervisorType, vmMode } = req.image;
    if (!architecture && !hypervisorType && !vmMode) return true;
    return host.supportedInstances.some(
      ([arch, hv, mode]) =>
        (!architecture || architecture === arch) && (!hypervisorType || hypervisorType === hv) && (!vmMode || vmMode === mode),
    );
  },
};
