import { matchesAnySelector, type LabelSelector, type Labels } from '../common/labels.ts';

/** The selection fields L2 and BGP advertisements share, with MetalLB's meaning. */
export interface AdvertisementSelection {
  ipAddressPools?: string[];
  ipAddressPoolSelectors?: LabelSelector[];
  serviceSelectors?: LabelSelector[];
}

/** Pools by name or by label; with neither set, every pool. */
export function advertisementSelectsPool(advert: AdvertisementSelection, pool: string, poolLabels: Labels): boolean {
  const byName = advert.ipAddressPools ?? [];
  const bySelector = advert.ipAddressPoolSelectors ?? [];
  if (byName.length === 0 && bySelector.length === 0) return true;
  return byName.includes(pool) || (bySelector.length > 0 && matchesAnySelector(bySelector, poolLabels));
}

/** With no serviceSelectors, every Service. */
export function advertisementSelectsService(advert: AdvertisementSelection, serviceLabels: Labels): boolean {
  return matchesAnySelector(advert.serviceSelectors, serviceLabels);
}
