import { KubeConfig } from '@kubernetes/client-node';

/** An explicit kubeconfig file, else KUBECONFIG / ~/.kube/config, else the in-cluster service account. */
export function loadKubeConfig(file?: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (file) kubeConfig.loadFromFile(file);
  else kubeConfig.loadFromDefault();
  return kubeConfig;
}
